//! The gRPC length prefixes of a request body, read as its frames go by, so
//! that a message declared longer than MAX_REQUEST_MESSAGE_BYTES is refused
//! before any of it is buffered. Each message is a 5-byte prefix (a
//! compressed flag and a big-endian length) and then that many bytes; a
//! prefix may be split across frames, and a streaming call sends several
//! messages. The length is the one on the wire, compressed or not (neither
//! server accepts compressed requests).

/// Bytes of a message prefix: the compressed flag and a `u32` length.
const PREFIX_BYTES: usize = 5;

/// Where the reader stands in a body.
#[derive(Debug, Default)]
pub(super) struct MessagePrefixes {
    /// The prefix being read, when it arrives in pieces.
    prefix: [u8; PREFIX_BYTES],
    /// How much of `prefix` has arrived; 0 between messages.
    filled: usize,
    /// Bytes of the current message still to come (none while a prefix is read).
    remaining: usize,
    /// The current message's declared length.
    declared: usize,
}

/// How a body that ended was cut off inside a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CutShort {
    /// `received` of the 5 prefix bytes arrived.
    InPrefix { received: usize },
    /// `received` of the `declared` message bytes arrived.
    InMessage { received: usize, declared: usize },
}

impl MessagePrefixes {
    /// Reads `data`, the next bytes of the body. `Err` carries the first
    /// declared message length over `max`; nothing after it is read.
    pub(super) fn read(&mut self, mut data: &[u8], max: usize) -> Result<(), usize> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let skipped = self.remaining.min(data.len());
                self.remaining -= skipped;
                data = &data[skipped..];
                continue;
            }
            let taken = (PREFIX_BYTES - self.filled).min(data.len());
            self.prefix[self.filled..self.filled + taken].copy_from_slice(&data[..taken]);
            self.filled += taken;
            data = &data[taken..];
            if self.filled == PREFIX_BYTES {
                self.filled = 0;
                let [_, length @ ..] = self.prefix;
                let declared = u32::from_be_bytes(length) as usize;
                if declared > max {
                    return Err(declared);
                }
                self.remaining = declared;
                self.declared = declared;
            }
        }
        Ok(())
    }

    /// Where the body stands when it ends: `Some` when it ended inside a
    /// message, which tonic would answer as INTERNAL ("Unexpected EOF"),
    /// though the caller sent the broken request.
    pub(super) fn cut_short(&self) -> Option<CutShort> {
        if self.filled > 0 {
            return Some(CutShort::InPrefix { received: self.filled });
        }
        (self.remaining > 0)
            .then(|| CutShort::InMessage { received: self.declared - self.remaining, declared: self.declared })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(declared: u32, body: usize) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend(declared.to_be_bytes());
        bytes.resize(PREFIX_BYTES + body, 0xAB);
        bytes
    }

    /// Feeds `body` in frames cut at `cuts`, as HTTP/2 might deliver it.
    fn read_in_frames(body: &[u8], cuts: &[usize], max: usize) -> Result<(), usize> {
        let mut prefixes = MessagePrefixes::default();
        let mut start = 0;
        for &end in cuts.iter().chain([&body.len()]) {
            prefixes.read(&body[start..end], max)?;
            start = end;
        }
        Ok(())
    }

    #[test]
    fn a_body_that_ends_inside_a_message_is_cut_short() {
        let mut prefixes = MessagePrefixes::default();
        prefixes.read(&message(10, 10), 100).unwrap();
        assert_eq!(prefixes.cut_short(), None, "whole messages");
        prefixes.read(&message(10, 4), 100).unwrap();
        assert_eq!(prefixes.cut_short(), Some(CutShort::InMessage { received: 4, declared: 10 }));
        let mut prefixes = MessagePrefixes::default();
        prefixes.read(&[0, 0, 0], 100).unwrap();
        assert_eq!(prefixes.cut_short(), Some(CutShort::InPrefix { received: 3 }));
    }

    #[test]
    fn a_message_exactly_at_the_limit_passes_and_one_byte_more_does_not() {
        assert_eq!(read_in_frames(&message(100, 100), &[], 100), Ok(()));
        assert_eq!(read_in_frames(&message(101, 3), &[], 100), Err(101));
    }

    #[test]
    fn a_prefix_split_across_frames_is_read_whole() {
        let body = message(u32::MAX, 0);
        for cuts in [&[1][..], &[2, 3], &[1, 2, 3, 4]] {
            assert_eq!(read_in_frames(&body, cuts, 100), Err(u32::MAX as usize), "cut at {cuts:?}");
        }
        let body = message(100, 100);
        assert_eq!(read_in_frames(&body, &[1, 4, 50], 100), Ok(()));
    }

    #[test]
    fn every_message_of_a_stream_is_checked() {
        let mut body = message(10, 10);
        body.extend(message(0, 0));
        body.extend(message(100, 100));
        body.extend(message(7_000_000, 2));
        assert_eq!(read_in_frames(&body, &[], 100), Err(7_000_000));
        // The same stream in frames that straddle message boundaries.
        assert_eq!(read_in_frames(&body, &[12, 17, 20, 24, 120], 100), Err(7_000_000));
        assert_eq!(read_in_frames(&body[..body.len() - 7], &[3, 16], 100), Ok(()));
    }

    #[test]
    fn bytes_inside_a_message_are_never_read_as_a_prefix() {
        // A picture whose bytes look like a huge prefix.
        let mut body = message(20, 0);
        body.extend(message(u32::MAX, 15));
        assert_eq!(read_in_frames(&body, &[7], 100), Ok(()));
    }
}
