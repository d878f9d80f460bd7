//! Splitting text at ASCII delimiters, byte by byte.
//!
//! `str::split(char)` searches with `memchr`, whose set-up costs more than the search on the
//! short strings SigV4 parses (`host;x-amz-date`, `AKID/20150830/…`), while a plain byte loop
//! is slow on longer ones (an `Authorization` header). [`find_byte`] reads eight bytes at a
//! time instead. For an ASCII delimiter these helpers give exactly what `str::split` and
//! `str::split_once` give.

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The index of the first byte `needle` in `bytes`.
///
/// Eight bytes at a time: after XOR-ing with `needle` in every lane, a matching byte is zero,
/// and `(x - 0x01…) & !x & 0x80…` flags zero bytes. A borrow can only flag a byte *above* a
/// true zero, never below, so the lowest flag (little-endian load: the earliest byte) is
/// always a real match.
#[inline]
pub(crate) fn find_byte(bytes: &[u8], needle: u8) -> Option<usize> {
    let pattern = u64::from_le_bytes([needle; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| offset + i)
}

/// The index of the first ASCII byte `sep` in `text`.
fn find(text: &str, sep: u8) -> Option<usize> {
    find_byte(text.as_bytes(), sep)
}

/// Whether `bytes` holds an ASCII upper-case letter. A fold, not `any`: without an early
/// exit the loop vectorises, and the lists and names it scans rarely have one.
#[inline]
pub(crate) fn has_ascii_uppercase(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(false, |upper, b| upper | b.is_ascii_uppercase())
}

/// The pieces of `text` between occurrences of the ASCII byte `sep` (as `text.split(sep)`).
pub(crate) fn split(text: &str, sep: u8) -> Split<'_> {
    debug_assert!(sep.is_ascii());
    Split {
        rest: Some(text),
        sep,
    }
}

/// Iterator returned by [`split`].
#[derive(Debug, Clone)]
pub(crate) struct Split<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match find(rest, self.sep) {
            Some(i) => {
                // `sep` is ASCII, so `i` and `i + 1` are character boundaries.
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// `text` split at the first ASCII byte `sep` (as `text.split_once(sep)`).
#[inline]
pub(crate) fn split_once(text: &str, sep: u8) -> Option<(&str, &str)> {
    debug_assert!(sep.is_ascii());
    let i = find(text, sep)?;
    Some((&text[..i], &text[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_finds_the_first_occurrence() {
        let text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 20).collect();
        for needle in 0..=255u8 {
            for start in 0..text.len() {
                let hay = &text[start..];
                assert_eq!(
                    find_byte(hay, needle),
                    hay.iter().position(|&b| b == needle),
                    "needle {needle} from {start}"
                );
            }
        }
        // Borrows from a zero lane must not flag an earlier byte.
        assert_eq!(find_byte(&[1, 0, 1, 1, 1, 1, 1, 1, 1], 0), Some(1));
        assert_eq!(find_byte(&[0x80, 0x81, 1, 0, 0xff, 0, 0, 0], 1), Some(2));
    }

    #[test]
    fn split_matches_the_standard_library() {
        let long = "content-length;content-type;host;x-amz-date;x-amz-security-token";
        for text in [
            "",
            ";",
            "a",
            "a;b",
            ";a;;b;",
            "é;ü;",
            "host;x-amz-date",
            long,
        ] {
            let ours: Vec<&str> = split(text, b';').collect();
            let std: Vec<&str> = text.split(';').collect();
            assert_eq!(ours, std, "{text:?}");
            assert_eq!(split_once(text, b';'), text.split_once(';'), "{text:?}");
        }
    }
}
