//! Kafka `Struct` primitives: the encoders and a bounds-checked reader shared by the three MM2
//! record types. Kept private so the public surface is only the record types.

use super::{WireError, VERSION};

/// Appends a big-endian `INT16`.
pub(crate) fn put_i16(buf: &mut Vec<u8>, v: i16) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `INT32`.
pub(crate) fn put_i32(buf: &mut Vec<u8>, v: i32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `INT64`.
pub(crate) fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends a `STRING`: `INT16` byte length, then the UTF-8 bytes.
///
/// # Errors
///
/// [`WireError::StringTooLong`] when `s` is longer than 32767 bytes, as Java's `Type.STRING`
/// write throws.
pub(crate) fn put_string(buf: &mut Vec<u8>, field: &'static str, s: &str) -> Result<(), WireError> {
    let len = i16::try_from(s.len()).map_err(|_| WireError::StringTooLong { field, len: s.len() })?;
    put_i16(buf, len);
    buf.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Reads fields in order from one key or value; never panics, whatever the bytes.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError::Truncated { field, needed: n, remaining: self.rest.len() });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let bytes = self.take(field, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn i16(&mut self, field: &'static str) -> Result<i16, WireError> {
        self.array(field).map(i16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self, field: &'static str) -> Result<i32, WireError> {
        self.array(field).map(i32::from_be_bytes)
    }

    pub(crate) fn i64(&mut self, field: &'static str) -> Result<i64, WireError> {
        self.array(field).map(i64::from_be_bytes)
    }

    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, WireError> {
        let len = self.i16(field)?;
        let len = usize::try_from(len).map_err(|_| WireError::NegativeLength { field, len })?;
        let bytes = self.take(field, len)?;
        std::str::from_utf8(bytes).map(str::to_string).map_err(|_| WireError::InvalidUtf8 { field })
    }

    /// Reads the `INT16` value header of Checkpoint and Heartbeat and checks it is [`VERSION`].
    pub(crate) fn version(&mut self, record: &'static str, field: &'static str) -> Result<(), WireError> {
        match self.i16(field)? {
            VERSION => Ok(()),
            version => Err(WireError::UnsupportedVersion { record, version }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = super::super::MAX_STRING_BYTES;

    #[test]
    fn big_endian_primitives() {
        let mut buf = Vec::new();
        put_i16(&mut buf, 0x0102);
        put_i32(&mut buf, -2);
        put_i64(&mut buf, 0x0102_0304_0506_0708);
        assert_eq!(buf, [1, 2, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8]);
        let mut r = Reader::new(&buf);
        assert_eq!(r.i16("a"), Ok(0x0102));
        assert_eq!(r.i32("b"), Ok(-2));
        assert_eq!(r.i64("c"), Ok(0x0102_0304_0506_0708));
        assert!(matches!(r.i16("d"), Err(WireError::Truncated { needed: 2, remaining: 0, .. })));
    }

    #[test]
    fn string_limits() {
        let mut buf = Vec::new();
        assert!(put_string(&mut buf, "s", &"x".repeat(MAX)).is_ok());
        assert_eq!(&buf[..2], [0x7f, 0xff]);
        assert_eq!(
            put_string(&mut Vec::new(), "s", &"x".repeat(MAX + 1)),
            Err(WireError::StringTooLong { field: "s", len: MAX + 1 })
        );
        // Multi-byte characters count in bytes, not chars.
        assert!(put_string(&mut Vec::new(), "s", &"é".repeat(MAX / 2 + 1)).is_err());
    }

    #[test]
    fn string_reads_reject_bad_lengths() {
        assert_eq!(Reader::new(&[0xff, 0xff]).string("s"), Err(WireError::NegativeLength { field: "s", len: -1 }));
        assert_eq!(
            Reader::new(&[0, 3, b'a', b'b']).string("s"),
            Err(WireError::Truncated { field: "s", needed: 3, remaining: 2 })
        );
        assert_eq!(Reader::new(&[0, 1, 0xff]).string("s"), Err(WireError::InvalidUtf8 { field: "s" }));
        assert_eq!(Reader::new(&[0, 0]).string("s"), Ok(String::new()));
    }
}
