//! JSON text written byte for byte as Python's `json.dumps` writes it with
//! its defaults (`ensure_ascii=True`, separators `", "` and `": "`), so a
//! request body is the same as the one requests would send.

/// Append `s` as a JSON string literal with non-ASCII escaped as `\uXXXX`.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if bytes
        .iter()
        .all(|&b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
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
}
