//! Python's float `repr`: the shortest text that round-trips, in fixed
//! notation when the decimal exponent is in -4..16, else `d.ddde±XX`; always
//! with a `.` or an `e` (`1.0`, `1e-05`, `1e+16`, `5e-324`).

/// Appends Python `repr(x)` to `out` (`nan`, `inf`, `-inf` for the
/// non-finite ones; JSON text writes those differently, see `write_json_float`).
pub fn write_float_repr(x: f64, out: &mut Vec<u8>) {
    write_shortest(x, out, true);
}

/// Python `repr(x)` as a string.
pub fn float_repr(x: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_float_repr(x, &mut out);
    ascii_string(out)
}

/// The float as Python writes the parts of a `complex` repr: like `repr`
/// but without a forced `.0` (`1`, `1.5`, `1e+16`).
pub fn float_repr_bare(x: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_shortest(x, &mut out, false);
    ascii_string(out)
}

/// The writers here produce ASCII only, which is always valid UTF-8.
fn ascii_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

fn write_shortest(x: f64, out: &mut Vec<u8>, force_point: bool) {
    if x.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if x.is_sign_negative() {
        out.push(b'-');
    }
    if x == 0.0 {
        out.extend_from_slice(if force_point { b"0.0" } else { b"0" });
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let mut digit_buffer = [0u8; 24];
    let (len, point) = decimal_digits(buffer.format_finite(x.abs()), &mut digit_buffer);
    let digits = &digit_buffer[..len];
    let n = len as i32;
    // `point` is where the decimal point goes relative to the first digit.
    if (-3..=16).contains(&point) {
        if point <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-point) as usize));
            out.extend_from_slice(digits);
        } else if point >= n {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', (point - n) as usize));
            if force_point {
                out.extend_from_slice(b".0");
            }
        } else {
            out.extend_from_slice(&digits[..point as usize]);
            out.push(b'.');
            out.extend_from_slice(&digits[point as usize..]);
        }
    } else {
        out.push(digits[0]);
        if n > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let exponent = point - 1;
        out.extend_from_slice(if exponent < 0 { b"e-" } else { b"e+" });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(magnitude).as_bytes());
    }
}

/// Splits ryu's text (`123.45`, `1e16`, `1.2345e-7`, `0.001`) into its
/// significant digits (no leading or trailing zeros, written to `digits`)
/// and the position of the decimal point relative to the first of them.
/// Returns the number of digits and that position.
fn decimal_digits(text: &str, digits: &mut [u8; 24]) -> (usize, i32) {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut len = 0;
    let mut leading_zeros = 0;
    for &b in int_part.as_bytes().iter().chain(frac_part.as_bytes()) {
        if len == 0 && b == b'0' {
            leading_zeros += 1;
        } else if len < digits.len() {
            digits[len] = b;
            len += 1;
        }
    }
    while len > 1 && digits[len - 1] == b'0' {
        len -= 1;
    }
    (len, int_part.len() as i32 - leading_zeros + exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(x: f64) -> String {
        float_repr(x)
    }

    #[test]
    fn matches_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-7, "1e-07"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123456.789, "123456.789"),
            (1.5e300, "1.5e+300"),
            (-2.5, "-2.5"),
            (1234567890123456.7, "1234567890123456.8"),
            (12345678901234567.0, "1.2345678901234568e+16"),
        ];
        for (x, want) in cases {
            assert_eq!(repr(x), want, "repr({x:?})");
        }
    }

    #[test]
    fn complex_parts_have_no_forced_point() {
        assert_eq!(float_repr_bare(2.0), "2");
    }
}
