// How a token's expiry reads on the join screen. Pure, so it is unit-tested with a fixed clock.

function span(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s`;
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}

/** "expires in 6 h", "expired 3 min ago", or "never expires" (seconds since the epoch). */
export function describeExpiry(expiresAt: number | null, nowSecs: number): string {
  if (expiresAt === null) return "never expires";
  const left = expiresAt - nowSecs;
  return left > 0 ? `expires in ${span(left)}` : `expired ${span(-left)} ago`;
}
