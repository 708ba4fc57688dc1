import { describe, expect, it } from "vitest";
import type { Diagnostics, TransportStats } from "../ipc";
import { describeCandidate, describeEntry, formatBitrate, summarize } from "./diagnostics";

const relayed: TransportStats = {
  path: {
    local: { kind: "relay", protocol: "udp", relayProtocol: "tls", address: "10.0.0.9", port: 50000 },
    remote: { kind: "host", protocol: "udp", relayProtocol: null, address: "10.0.0.1", port: 7882 },
  },
  roundTripMs: 23.456,
  bytesSent: 0,
  bytesReceived: 0,
  streams: [
    { direction: "inbound", kind: "audio", ssrc: 1, packets: 990, bytes: 0, packetsLost: 10, fractionLost: null, jitterMs: 2.5, roundTripMs: null, framesPerSecond: null },
    { direction: "inbound", kind: "video", ssrc: 2, packets: 1000, bytes: 0, packetsLost: 0, fractionLost: null, jitterMs: 4, roundTripMs: null, framesPerSecond: 30 },
    { direction: "outbound", kind: "audio", ssrc: 3, packets: 500, bytes: 0, packetsLost: 99, fractionLost: 0.1, jitterMs: null, roundTripMs: 20, framesPerSecond: null },
  ],
};

describe("the diagnostics panel", () => {
  it("names the path, with how a relay is reached", () => {
    expect(describeCandidate(relayed.path!.local)).toBe("relay, UDP (TURN over TLS) 10.0.0.9:50000");
    expect(describeCandidate(relayed.path!.remote!)).toBe("host, UDP 10.0.0.1:7882");
  });

  it("sums loss and takes the worst jitter of what is received only", () => {
    const reading: Diagnostics = {
      stats: { takenAtMs: 0, publisher: null, subscriber: relayed },
      publisherBitrates: null,
      subscriberBitrates: { sent: 12_000, received: 1_234_567 },
      timeline: [],
    };
    const rows = Object.fromEntries(summarize(reading).map((row) => [row.label, row.value]));
    expect(rows["Sending connection"]).toBe("not connected");
    expect(rows["Receiving connection: round trip"]).toBe("23.5 ms");
    expect(rows["Receiving connection: receiving"]).toBe("1.23 Mbit/s");
    expect(rows["Received loss"]).toBe("0.5 %");
    expect(rows["Received jitter (worst)"]).toBe("4.0 ms");
    expect(formatBitrate(96_400)).toBe("96 kbit/s");
  });

  it("writes a timeline entry as time, event and its simple fields", () => {
    const atMs = new Date(2026, 10, 28, 12, 3, 4, 56).getTime();
    const line = describeEntry({ atMs, event: { event: "reconnecting", kind: "resume", track: { sid: "x" } } });
    expect(line).toBe("12:03:04.056 reconnecting kind=resume");
  });
});
