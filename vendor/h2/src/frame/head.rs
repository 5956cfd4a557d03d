use super::StreamId;

use bytes::BufMut;

#[derive(Debug, Copy, Clone, PartialEq, Eq)]
pub struct Head {
    kind: Kind,
    flag: u8,
    stream_id: StreamId,
}

#[repr(u8)]
#[derive(Debug, Copy, Clone, PartialEq, Eq)]
pub enum Kind {
    Data = 0,
    Headers = 1,
    Priority = 2,
    Reset = 3,
    Settings = 4,
    PushPromise = 5,
    Ping = 6,
    GoAway = 7,
    WindowUpdate = 8,
    Continuation = 9,
    Unknown,
}

// ===== impl Head =====

impl Head {
    pub fn new(kind: Kind, flag: u8, stream_id: StreamId) -> Head {
        Head {
            kind,
            flag,
            stream_id,
        }
    }

    /// Parse an HTTP/2 frame header
    pub fn parse(header: &[u8]) -> Head {
        let (stream_id, _) = StreamId::parse(&header[5..]);

        Head {
            kind: Kind::new(header[3]),
            flag: header[4],
            stream_id,
        }
    }

    pub fn stream_id(&self) -> StreamId {
        self.stream_id
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn flag(&self) -> u8 {
        self.flag
    }

    pub fn encode_len(&self) -> usize {
        super::HEADER_LEN
    }

    pub fn encode<T: BufMut>(&self, payload_len: usize, dst: &mut T) {
        debug_assert!(self.encode_len() <= dst.remaining_mut());

        // fulcrum: the nine bytes written at once (one bounds check and copy instead of four
        // `put_*` calls, each through `Limit<&mut BytesMut>`), the same bytes: the length's
        // low three bytes, big-endian, as `put_uint(len, 3)` wrote them.
        let len = (payload_len as u64).to_be_bytes();
        let id = u32::from(self.stream_id).to_be_bytes();
        dst.put_slice(&[
            len[5],
            len[6],
            len[7],
            self.kind as u8,
            self.flag,
            id[0],
            id[1],
            id[2],
            id[3],
        ]);
    }
}

// ===== impl Kind =====

impl Kind {
    pub fn new(byte: u8) -> Kind {
        match byte {
            0 => Kind::Data,
            1 => Kind::Headers,
            2 => Kind::Priority,
            3 => Kind::Reset,
            4 => Kind::Settings,
            5 => Kind::PushPromise,
            6 => Kind::Ping,
            7 => Kind::GoAway,
            8 => Kind::WindowUpdate,
            9 => Kind::Continuation,
            _ => Kind::Unknown,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use bytes::BufMut;

    /// fulcrum: the frame head written in one go is byte for byte what upstream's four
    /// `put_*` calls wrote, through the same `Limit<&mut BytesMut>` the codec uses.
    #[test]
    fn encode_writes_upstreams_bytes() {
        let kinds = [
            Kind::Data,
            Kind::Headers,
            Kind::Settings,
            Kind::Continuation,
        ];
        let lens = [
            0usize,
            1,
            9,
            0x3fff,
            0x4000,
            0xff_ffff,
            0x100_0000,
            0x1234_5678,
        ];
        let ids = [0u32, 1, 3, 0x100, 0x7fff_ffff];
        for kind in kinds {
            for flag in [0u8, 0x1, 0x4, 0x25] {
                for id in ids {
                    for len in lens {
                        let head = Head::new(kind, flag, StreamId::from(id));
                        let mut got = bytes::BytesMut::new();
                        head.encode(len, &mut (&mut got).limit(64));
                        let mut want = bytes::BytesMut::new();
                        want.put_uint(len as u64, 3);
                        want.put_u8(kind as u8);
                        want.put_u8(flag);
                        want.put_u32(StreamId::from(id).into());
                        assert_eq!(got, want, "{kind:?} {flag} {id} {len}");
                    }
                }
            }
        }
    }
}
