// The call grid's shape: as square as possible, so four people get a 2 x 2 of large tiles.

/** Meeting-grid columns for `tiles` tiles: 1, 2 (up to 4), 3 (up to 9), 4 beyond. */
export function gridColumns(tiles: number): string {
  const columns = Math.min(4, Math.max(1, Math.ceil(Math.sqrt(tiles))));
  return `repeat(${columns}, minmax(0, 1fr))`;
}
