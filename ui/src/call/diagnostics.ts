// What the diagnostics panel shows, worked out from a reading (pure, tested in node).
import type { Bitrates, Candidate, Diagnostics, TimelineEntry, TransportStats } from "../ipc";

/** One row of the panel. */
export interface Row {
  label: string;
  value: string;
}

/** "relay, UDP (TURN over TLS) 10.0.0.2:443" or "host, UDP 127.0.0.1:50000". */
export function describeCandidate(candidate: Candidate): string {
  const relay = candidate.relayProtocol ? ` (TURN over ${candidate.relayProtocol.toUpperCase()})` : "";
  return `${candidate.kind}, ${candidate.protocol.toUpperCase()}${relay} ${candidate.address}:${candidate.port}`;
}

/** "1.23 Mbit/s", "96 kbit/s". */
export function formatBitrate(bitsPerSecond: number | null): string {
  if (bitsPerSecond === null) return "-";
  if (bitsPerSecond >= 1_000_000) return `${(bitsPerSecond / 1_000_000).toFixed(2)} Mbit/s`;
  return `${Math.round(bitsPerSecond / 1000)} kbit/s`;
}

/** Packets lost as a share of those expected, over every received stream ("0.0 %"). */
export function receivedLoss(transport: TransportStats): string {
  let lost = 0;
  let received = 0;
  for (const stream of transport.streams) {
    if (stream.direction !== "inbound") continue;
    lost += Math.max(0, stream.packetsLost ?? 0);
    received += stream.packets;
  }
  return received + lost === 0 ? "-" : `${((100 * lost) / (received + lost)).toFixed(1)} %`;
}

/** The worst jitter of the received streams, in ms. */
export function worstJitter(transport: TransportStats): string {
  const jitters = transport.streams.flatMap((s) => (s.direction === "inbound" && s.jitterMs !== null ? [s.jitterMs] : []));
  return jitters.length === 0 ? "-" : `${Math.max(...jitters).toFixed(1)} ms`;
}

function transportRows(name: string, transport: TransportStats | null, rates: Bitrates | null): Row[] {
  if (!transport) return [{ label: name, value: "not connected" }];
  const rows: Row[] = [
    { label: `${name}: path`, value: transport.path ? describeCandidate(transport.path.local) : "no pair selected yet" },
    { label: `${name}: server`, value: transport.path?.remote ? describeCandidate(transport.path.remote) : "-" },
    { label: `${name}: round trip`, value: transport.roundTripMs === null ? "-" : `${transport.roundTripMs.toFixed(1)} ms` },
  ];
  if (rates) {
    rows.push({ label: `${name}: sending`, value: formatBitrate(rates.sent) });
    rows.push({ label: `${name}: receiving`, value: formatBitrate(rates.received) });
  }
  return rows;
}

/** The panel's rows: each connection's path, round trip and bitrates, then loss and jitter of what we receive. */
export function summarize(diagnostics: Diagnostics): Row[] {
  const { publisher, subscriber } = diagnostics.stats;
  const rows = [
    ...transportRows("Sending connection", publisher, diagnostics.publisherBitrates),
    ...transportRows("Receiving connection", subscriber, diagnostics.subscriberBitrates),
  ];
  if (subscriber) {
    rows.push({ label: "Received loss", value: receivedLoss(subscriber) });
    rows.push({ label: "Received jitter (worst)", value: worstJitter(subscriber) });
  }
  return rows;
}

/** "12:03:04.123 reconnecting kind=resume" (local time). */
export function describeEntry(entry: TimelineEntry): string {
  const at = new Date(entry.atMs);
  const time = `${at.toTimeString().slice(0, 8)}.${String(at.getMilliseconds()).padStart(3, "0")}`;
  const { event, ...details } = entry.event;
  const shown = Object.entries(details)
    .filter(([, value]) => typeof value !== "object" || value === null)
    .map(([key, value]) => `${key}=${String(value)}`);
  return [time, event, ...shown].join(" ");
}
