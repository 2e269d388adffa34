//! JSON text written byte for byte as Python's `json.dumps` writes it with
//! its defaults (`ensure_ascii=True`, separators `", "` and `": "`), so a
//! request body is the same as the one requests would send.

/// Append `s` as a JSON string literal with non-ASCII escaped as `\uXXXX`.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !needs_escape(bytes) {
        // Nothing to escape (nearly every key and value): one copy.
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        let esc: Option<&[u8]> = match ch {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            '\u{08}' => Some(b"\\b"),
            '\u{0c}' => Some(b"\\f"),
            _ => None,
        };
        if esc.is_none() && (' '..='~').contains(&ch) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + ch.len_utf8();
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    push_u_escape(out, *unit);
                }
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The bytes a JSON string literal cannot hold as they are (`ensure_ascii`).
static ESCAPED: [bool; 256] = {
    let mut t = [true; 256];
    let mut b = b' ';
    while b <= b'~' {
        t[b as usize] = b == b'"' || b == b'\\';
        b += 1;
    }
    t
};

/// Whether any byte of `bytes` is not printable ASCII, or is `"` or `\\`.
/// Eight bytes at a time as one word (the tests of "Bit Twiddling Hacks": a
/// byte below 0x20, above 0x7e, or equal to one of the two), the last word
/// overlapping the one before; shorter texts by a table, with no early exit.
/// The early-exit scan of every byte took ~10 instructions a byte, a third of
/// encoding a typical request body.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES * 0x80;
    #[inline(always)]
    fn has_zero(v: u64) -> bool {
        v.wrapping_sub(ONES) & !v & HIGH != 0
    }
    #[inline(always)]
    fn bad(word: &[u8]) -> bool {
        let Ok(w) = <[u8; 8]>::try_from(word) else {
            return true; // not reached: every word is 8 bytes
        };
        let w = u64::from_le_bytes(w);
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0;
        // A byte 0x7f..=0xff, or one whose +1 carried (only 0xff, already counted).
        let above_tilde = (w.wrapping_add(ONES) | w) & HIGH != 0;
        below_space || above_tilde || has_zero(w ^ (ONES * 0x22)) || has_zero(w ^ (ONES * 0x5c))
    }
    if bytes.len() < 8 {
        return bytes
            .iter()
            .fold(false, |acc, &b| acc | ESCAPED[b as usize]);
    }
    let mut words = bytes.chunks_exact(8);
    if words.any(bad) {
        return true;
    }
    !words.remainder().is_empty() && bad(&bytes[bytes.len() - 8..])
}

/// Append a `\uXXXX` escape (lower-case hex, as Python writes it).
pub fn push_u_escape(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xf) as usize]);
    }
}

/// Append an integer.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

/// Python's `repr(float)` for a finite value: shortest round-trip digits,
/// fixed notation for exponents -4..16, else `d.ddde+XX`.
pub fn py_float_repr(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(v);
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int_part}{frac_part}");
    // Position of the decimal point relative to the start of `digits`.
    let mut point = int_part.len() as i32 + exp;
    let leading = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..leading);
    point -= leading as i32;
    let trimmed_len = digits.trim_end_matches('0').len();
    digits.truncate(trimmed_len.max(1));
    let sci_exp = point - 1;
    let mut out = String::with_capacity(24);
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&sci_exp) {
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else if point as usize >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if sci_exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", sci_exp.abs()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_match_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1.5e-7, "1.5e-07"),
            (1e300, "1e+300"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (31.9686, "31.9686"),
            (f64::MAX, "1.7976931348623157e+308"),
        ];
        for (v, want) in cases {
            assert_eq!(py_float_repr(*v), *want, "{v:?}");
        }
    }

    #[test]
    fn strings_match_json_dumps() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\te\u{1}é€😀");
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            r#""a\"b\\c\nd\te\u0001\u00e9\u20ac\ud83d\ude00""#
        );
        let mut out = Vec::new();
        write_str(&mut out, "\u{7f}");
        assert_eq!(String::from_utf8(out).unwrap_or_default(), r#""\u007f""#);
        // The one-copy path (printable ASCII, no quote or backslash) and each
        // byte that must leave it, alone and at the end of plain text.
        for (text, want) in [
            ("", r#""""#),
            ("W0000001 ~!@#$%^&*()", r#""W0000001 ~!@#$%^&*()""#),
            ("ab\"", r#""ab\"""#),
            ("ab\\", r#""ab\\""#),
            ("ab\u{1f}", r#""ab\u001f""#),
            ("ab\u{7f}", r#""ab\u007f""#),
            ("abé", r#""ab\u00e9""#),
        ] {
            let mut out = b"[".to_vec();
            write_str(&mut out, text);
            assert_eq!(out, [b"[", want.as_bytes()].concat(), "{text:?}");
        }
    }

    #[test]
    fn the_word_scan_finds_every_byte_that_needs_escaping() {
        let plain = |b: &[u8]| {
            b.iter()
                .any(|&c| !(b' '..=b'~').contains(&c) || c == b'"' || c == b'\\')
        };
        // Each byte value at each position of texts across the 8-byte words.
        for len in [1, 7, 8, 9, 15, 16, 17, 40] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = b;
                    assert_eq!(needs_escape(&text), plain(&text), "{len} {at} {b}");
                }
            }
        }
        assert!(!needs_escape(b""));
    }
}
