/**
 * A packet capture read back as TCP streams: a small pcap reader (the
 * classic format tcpdump -w writes; Ethernet, Linux cooked v1/v2 and raw
 * IP links; IPv4 and IPv6) and a reassembler that orders each direction's
 * segments by sequence number and drops retransmitted bytes, so a secret
 * split across two segments is one string again.
 */
import { readFileSync } from 'node:fs';

export interface Segment {
  readonly flow: string;
  readonly seq: number;
  readonly syn: boolean;
  readonly payload: Buffer;
}

export interface Capture {
  readonly packets: number;
  readonly segments: Segment[];
  /** Concatenated captured link-layer frames, for a raw-bytes search. */
  readonly raw: Buffer;
}

const LINK = { ETHERNET: 1, RAW: 101, LINUX_SLL: 113, RAW_IP: 12, LINUX_SLL2: 276 } as const;

/** The IP packet inside a link-layer frame, or null when it is not IP. */
function ipOf(link: number, frame: Buffer): Buffer | null {
  switch (link) {
    case LINK.ETHERNET: {
      let type = frame.readUInt16BE(12);
      let at = 14;
      while (type === 0x8100 && frame.length >= at + 4) {
        type = frame.readUInt16BE(at + 2);
        at += 4;
      }
      return type === 0x0800 || type === 0x86dd ? frame.subarray(at) : null;
    }
    case LINK.LINUX_SLL:
      return frame.subarray(16);
    case LINK.LINUX_SLL2:
      return frame.subarray(20);
    case LINK.RAW:
    case LINK.RAW_IP:
      return frame;
    default:
      throw new Error(`unsupported pcap link type ${link}`);
  }
}

function tcpOf(ip: Buffer): { src: string; dst: string; tcp: Buffer } | null {
  if (ip.length < 20) return null;
  const version = (ip[0] as number) >> 4;
  if (version === 4) {
    if (ip[9] !== 6) return null;
    const ihl = ((ip[0] as number) & 0x0f) * 4;
    const total = ip.readUInt16BE(2);
    const src = [...ip.subarray(12, 16)].join('.');
    const dst = [...ip.subarray(16, 20)].join('.');
    return { src, dst, tcp: ip.subarray(ihl, Math.min(total, ip.length)) };
  }
  if (version === 6) {
    // No extension headers on loopback TCP; anything else is skipped.
    if (ip[6] !== 6) return null;
    const len = ip.readUInt16BE(4);
    const hex = (b: Buffer): string => b.toString('hex').replace(/(.{4})(?!$)/g, '$1:');
    return {
      src: `[${hex(ip.subarray(8, 24))}]`,
      dst: `[${hex(ip.subarray(24, 40))}]`,
      tcp: ip.subarray(40, 40 + len),
    };
  }
  return null;
}

/** Reads a classic pcap file (either byte order, micro- or nanosecond stamps). */
export function readPcap(file: string): Capture {
  const buf = readFileSync(file);
  if (buf.length < 24) throw new Error(`${file} is not a pcap file (${buf.length} bytes)`);
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d)
    throw new Error(`${file} is not a classic pcap file (pcapng is not read here)`);
  const u32 = (at: number): number => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const link = u32(20) & 0x0fffffff;
  const segments: Segment[] = [];
  const frames: Buffer[] = [];
  let packets = 0;
  for (let at = 24; at + 16 <= buf.length;) {
    const caplen = u32(at + 8);
    const frame = buf.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    if (frame.length < caplen) break; // a capture cut off mid-packet
    packets += 1;
    frames.push(frame);
    const ip = ipOf(link, frame);
    const t = ip && tcpOf(ip);
    if (!t || t.tcp.length < 20) continue;
    const sport = t.tcp.readUInt16BE(0);
    const dport = t.tcp.readUInt16BE(2);
    const seq = t.tcp.readUInt32BE(4);
    const offset = ((t.tcp[12] as number) >> 4) * 4;
    const syn = ((t.tcp[13] as number) & 0x02) !== 0;
    segments.push({
      flow: `${t.src}:${sport} > ${t.dst}:${dport}`,
      seq,
      syn,
      payload: t.tcp.subarray(offset),
    });
  }
  return { packets, segments, raw: Buffer.concat(frames) };
}

/**
 * Each direction of each TCP connection as one byte stream, in sequence
 * order, with retransmitted and overlapping bytes kept once. Keyed by
 * `src:port > dst:port` (a port reused later appends a new stream with a
 * `#n` suffix).
 */
export function reassemble(segments: readonly Segment[]): Map<string, Buffer> {
  const byFlow = new Map<string, { isn: number; parts: Segment[] }[]>();
  for (const s of segments) {
    let conns = byFlow.get(s.flow);
    if (!conns) byFlow.set(s.flow, (conns = []));
    const last = conns.at(-1);
    // A new SYN with another sequence number is a new connection on a reused port.
    if (!last || (s.syn && s.seq !== last.isn - 1))
      conns.push({ isn: s.syn ? s.seq + 1 : s.seq, parts: [] });
    const conn = conns.at(-1) as { isn: number; parts: Segment[] };
    if (s.payload.length > 0) conn.parts.push(s);
  }
  const streams = new Map<string, Buffer>();
  for (const [flow, conns] of byFlow) {
    conns.forEach((conn, i) => {
      const rel = (seq: number): number => (seq - conn.isn + 2 ** 32) % 2 ** 32;
      const parts = [...conn.parts].sort((a, b) => rel(a.seq) - rel(b.seq));
      const out: Buffer[] = [];
      let next = 0;
      for (const p of parts) {
        const start = rel(p.seq);
        const end = start + p.payload.length;
        if (end <= next) continue; // a retransmission of bytes we have
        // A gap (a packet the capture missed) is marked, never silently joined.
        if (start > next) out.push(Buffer.from(`\n[gap of ${start - next} bytes]\n`));
        out.push(p.payload.subarray(Math.max(0, next - start)));
        next = end;
      }
      streams.set(i === 0 ? flow : `${flow} #${i}`, Buffer.concat(out));
    });
  }
  return streams;
}
