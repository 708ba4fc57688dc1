//! TURN messages on a stream (RFC 8656 §12.5): STUN messages are self-delimiting (20-byte
//! header with the body length), ChannelData has a 4-byte header and is padded to a multiple
//! of four bytes over TCP. The TURN client in webrtc-rs speaks datagrams, so each datagram
//! becomes one framed message and each framed message one datagram.

use bytes::{Buf, Bytes, BytesMut};

const STUN_HEADER: usize = 20;
const MAGIC_COOKIE: [u8; 4] = 0x2112_A442_u32.to_be_bytes();
const CHANNEL_DATA_HEADER: usize = 4;
/// Transaction ids of recent requests remembered to drop the UDP-minded retransmissions.
const REMEMBERED_REQUESTS: usize = 64;

/// The stream was not TURN (a TLS-terminating proxy or a wrong port answered).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a TURN message on the stream (first byte {0:#04x})")]
pub struct NotTurn(pub u8);

/// Splits what arrives on the stream into messages.
#[derive(Debug, Default)]
pub struct Deframer {
    buffer: BytesMut,
}

impl Deframer {
    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole message (ChannelData without its padding), if one has arrived.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, NotTurn> {
        let Some(&first) = self.buffer.first() else {
            return Ok(None);
        };
        if self.buffer.len() < CHANNEL_DATA_HEADER {
            return Ok(None);
        }
        let body = usize::from(u16::from_be_bytes([self.buffer[2], self.buffer[3]]));
        let (length, padded) = match first {
            0x00..=0x3F => {
                // STUN: checked by its magic cookie once that has arrived.
                if self.buffer.len() < 8 {
                    return Ok(None);
                }
                if self.buffer[4..8] != MAGIC_COOKIE {
                    return Err(NotTurn(first));
                }
                (STUN_HEADER + body, STUN_HEADER + body)
            }
            // ChannelData: channel numbers 0x4000-0x4FFF.
            0x40..=0x4F => {
                let length = CHANNEL_DATA_HEADER + body;
                (length, length.next_multiple_of(4))
            }
            _ => return Err(NotTurn(first)),
        };
        if self.buffer.len() < padded {
            return Ok(None);
        }
        let message = self.buffer.split_to(length).freeze();
        self.buffer.advance(padded - length);
        Ok(Some(message))
    }
}

/// Prepares datagrams for the stream: pads ChannelData and drops retransmitted requests (the
/// stream is reliable; a repeated Allocate would be answered with an error).
#[derive(Debug, Default)]
pub struct Framer {
    sent_requests: std::collections::VecDeque<[u8; 12]>,
}

impl Framer {
    /// The bytes to write for `datagram`, or `None` when it is a retransmission.
    pub fn frame(&mut self, datagram: &[u8]) -> Option<Bytes> {
        if let Some(transaction) = stun_request_transaction(datagram) {
            if self.sent_requests.contains(&transaction) {
                return None;
            }
            if self.sent_requests.len() == REMEMBERED_REQUESTS {
                self.sent_requests.pop_front();
            }
            self.sent_requests.push_back(transaction);
        }
        let is_channel_data = datagram.first().is_some_and(|first| first >> 6 == 0b01);
        if is_channel_data && !datagram.len().is_multiple_of(4) {
            let mut padded = BytesMut::with_capacity(datagram.len().next_multiple_of(4));
            padded.extend_from_slice(datagram);
            padded.resize(datagram.len().next_multiple_of(4), 0);
            return Some(padded.freeze());
        }
        Some(Bytes::copy_from_slice(datagram))
    }
}

/// The transaction id of a STUN request (class bits C1 C0 = 00), if `datagram` is one.
fn stun_request_transaction(datagram: &[u8]) -> Option<[u8; 12]> {
    if datagram.len() < STUN_HEADER || datagram[0] >> 6 != 0 {
        return None;
    }
    let message_type = u16::from_be_bytes([datagram[0], datagram[1]]);
    let is_request = message_type & 0x0110 == 0;
    is_request.then(|| datagram[8..20].try_into().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(message_type: u16, transaction: u8, body: usize) -> Vec<u8> {
        let mut message = vec![0u8; STUN_HEADER + body];
        message[..2].copy_from_slice(&message_type.to_be_bytes());
        message[2..4].copy_from_slice(&(body as u16).to_be_bytes());
        message[4..8].copy_from_slice(&0x2112_A442_u32.to_be_bytes());
        message[8..20].fill(transaction);
        message
    }

    fn channel_data(payload: &[u8]) -> Vec<u8> {
        let mut message = vec![0x40, 0x00];
        message.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        message.extend_from_slice(payload);
        message
    }

    #[test]
    fn messages_split_across_reads_come_out_whole_and_padding_is_dropped() {
        let response = stun(0x0103, 1, 8);
        let data = channel_data(b"hello");
        let mut stream = response.clone();
        stream.extend_from_slice(&data);
        stream.extend_from_slice(&[0, 0, 0]); // 9 bytes padded to 12
        stream.extend_from_slice(&stun(0x0113, 2, 0));
        let mut deframer = Deframer::default();
        let mut out = Vec::new();
        for chunk in stream.chunks(7) {
            deframer.push(chunk);
            while let Some(message) = deframer.next_message().expect("TURN") {
                out.push(message);
            }
        }
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], response);
        assert_eq!(out[1], data);
        assert_eq!(out[2].len(), STUN_HEADER);
    }

    #[test]
    fn anything_else_on_the_stream_is_an_error() {
        let mut deframer = Deframer::default();
        deframer.push(b"SSH-2.0-OpenSSH_9.2\r\n");
        assert_eq!(deframer.next_message(), Err(NotTurn(b'S')));
        // A TLS record where plain TCP was expected.
        let mut tls = Deframer::default();
        tls.push(&[0x16, 0x03, 0x03, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d]);
        assert_eq!(tls.next_message(), Err(NotTurn(0x16)));
    }

    #[test]
    fn channel_data_is_padded_and_retransmitted_requests_are_dropped() {
        let mut framer = Framer::default();
        let framed = framer.frame(&channel_data(b"hello")).expect("data");
        assert_eq!(framed.len(), 12);
        assert_eq!(&framed[9..], &[0, 0, 0]);

        let allocate = stun(0x0003, 7, 4);
        assert!(framer.frame(&allocate).is_some());
        assert!(framer.frame(&allocate).is_none(), "a retransmission");
        assert!(framer.frame(&stun(0x0003, 8, 4)).is_some(), "a new request");
        // Indications and responses are never deduplicated.
        let send = stun(0x0016, 9, 4);
        assert!(framer.frame(&send).is_some());
        assert!(framer.frame(&send).is_some());
    }
}
