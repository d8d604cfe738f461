//! Lower-case hexadecimal for alert ids, fingerprints and evidence, written straight into a
//! string: the formatter (`{:02x}` per byte) costs a call chain per byte and, through
//! `format!`, a string per byte, and ids and evidence are written for every alert.
//!
//! Not the `hex` crate: it returns a new `String` per call or writes into a byte slice, and the
//! callers here append to a string they are building (a JA4 cipher list is one four-digit
//! value per cipher, an evidence escape one byte at a time).

/// The lower-case hex digit of `n` (0–15).
fn digit(n: u8) -> char {
    char::from_digit(u32::from(n & 0x0f), 16).unwrap_or('0')
}

/// Appends the two hex digits of each byte of `bytes` to `s`.
pub(crate) fn push(s: &mut String, bytes: &[u8]) {
    s.reserve(bytes.len() * 2);
    for &b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b));
    }
}

/// Appends `x` as four hex digits, as `{x:04x}` writes it.
pub(crate) fn push_u16(s: &mut String, x: u16) {
    push(s, &x.to_be_bytes());
}

/// `bytes` in lower-case hex.
pub(crate) fn of(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push(&mut s, bytes);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The same text the formatter writes.
        #[test]
        fn as_the_formatter_writes(b in proptest::collection::vec(any::<u8>(), 0..40), x in any::<u16>()) {
            let formatted: String = b.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(of(&b), formatted);
            let mut s = String::from("_");
            push_u16(&mut s, x);
            prop_assert_eq!(s, format!("_{x:04x}"));
        }
    }
}
