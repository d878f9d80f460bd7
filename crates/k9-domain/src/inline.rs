//! [`InlineAscii`]: the text of a short id, stored in the id itself.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// ASCII text of at most `N` bytes (`N` ≤ 255), stored inline. The ids are parsed and
/// copied on every request; inline, that costs no allocation.
#[derive(Clone, Copy)]
pub(crate) struct InlineAscii<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> InlineAscii<N> {
    /// `text`, if it is ASCII and fits.
    pub(crate) fn new(text: &str) -> Option<Self> {
        if text.len() > N || !text.is_ascii() {
            return None;
        }
        let len = u8::try_from(text.len()).ok()?;
        let mut bytes = [0; N];
        bytes
            .get_mut(..text.len())?
            .copy_from_slice(text.as_bytes());
        Some(Self { bytes, len })
    }

    pub(crate) fn as_str(&self) -> &str {
        // ASCII by construction, hence UTF-8: the empty fallback is unreachable.
        std::str::from_utf8(self.text_bytes()).unwrap_or_default()
    }

    /// The text's bytes.
    fn text_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

// Compared, ordered and hashed as the text it holds, as the `String` it replaces was; on
// the bytes, as `str` does, without checking them for UTF-8 again.
impl<const N: usize> PartialEq for InlineAscii<N> {
    fn eq(&self, other: &Self) -> bool {
        self.text_bytes() == other.text_bytes()
    }
}

impl<const N: usize> Eq for InlineAscii<N> {}

impl<const N: usize> PartialOrd for InlineAscii<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for InlineAscii<N> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text_bytes().cmp(other.text_bytes())
    }
}

impl<const N: usize> Hash for InlineAscii<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // What `str`'s `Hash` writes.
        state.write(self.text_bytes());
        state.write_u8(0xff);
    }
}

impl<const N: usize> fmt::Debug for InlineAscii<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_ascii_that_fits_and_refuses_the_rest() {
        assert_eq!(
            InlineAscii::<4>::new("abcd").map(|t| t.as_str().to_owned()),
            Some("abcd".into())
        );
        assert_eq!(
            InlineAscii::<4>::new("").map(|t| t.as_str().to_owned()),
            Some(String::new())
        );
        assert!(InlineAscii::<4>::new("abcde").is_none());
        assert!(InlineAscii::<4>::new("é").is_none());
        assert!(InlineAscii::<300>::new(&"a".repeat(256)).is_none());
    }

    #[test]
    fn orders_and_compares_as_its_text() {
        let text = |s| InlineAscii::<8>::new(s).expect("fits");
        assert!(text("C12345") < text("C123456"));
        assert!(text("C123456") < text("C2"));
        assert_eq!(text("ab"), text("ab"));
        assert_ne!(text("ab"), text("ab\0"));
        assert_eq!(format!("{:?}", text("ab")), "\"ab\"");
    }

    #[test]
    fn hashes_as_its_text() {
        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        let text = InlineAscii::<8>::new("C123456").expect("fits");
        assert_eq!(hasher.hash_one(text), hasher.hash_one("C123456"));
    }
}
