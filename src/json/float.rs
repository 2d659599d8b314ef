//! Python's float `repr`: the shortest text that round-trips, in fixed
//! notation when the decimal exponent is in -4..16, else `d.ddde±XX`; always
//! with a `.` or an `e` (`1.0`, `1e-05`, `1e+16`, `5e-324`).

use std::fmt::Write;

/// Appends Python `repr(x)` of a finite float to `out`.
///
/// Non-finite floats have no single text (`nan` in `repr`, `NaN` in JSON):
/// callers write those themselves; here they fall back to `repr`'s words.
pub fn write_float_repr(x: f64, out: &mut String) {
    write_shortest(x, out, true);
}

/// Appends the float as Python writes the parts of a `complex` repr: like
/// `repr` but without a forced `.0` (`1`, `1.5`, `1e+16`).
pub fn write_float_repr_bare(x: f64, out: &mut String) {
    write_shortest(x, out, false);
}

fn write_shortest(x: f64, out: &mut String, force_point: bool) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    if x == 0.0 {
        out.push_str(if force_point { "0.0" } else { "0" });
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let (digits, point) = decimal_digits(buffer.format_finite(x.abs()));
    let digits = digits.as_bytes();
    let n = digits.len() as i32;
    // `point` is where the decimal point goes relative to the first digit.
    if (-3..=16).contains(&point) {
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(as_str(digits));
        } else if point >= n {
            out.push_str(as_str(digits));
            out.extend(std::iter::repeat_n('0', (point - n) as usize));
            if force_point {
                out.push_str(".0");
            }
        } else {
            out.push_str(as_str(&digits[..point as usize]));
            out.push('.');
            out.push_str(as_str(&digits[point as usize..]));
        }
    } else {
        out.push(digits[0] as char);
        if n > 1 {
            out.push('.');
            out.push_str(as_str(&digits[1..]));
        }
        let exponent = point - 1;
        let sign = if exponent < 0 { '-' } else { '+' };
        // Writing to a String cannot fail.
        let _ = write!(out, "e{sign}{:02}", exponent.unsigned_abs());
    }
}

fn as_str(ascii_digits: &[u8]) -> &str {
    // The digits come from ryu's ASCII output.
    std::str::from_utf8(ascii_digits).unwrap_or_default()
}

/// Splits ryu's text (`123.45`, `1e16`, `1.2345e-7`, `0.001`) into its
/// significant digits (no leading or trailing zeros) and the position of the
/// decimal point relative to the first of them.
fn decimal_digits(text: &str) -> (String, i32) {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = int_part.chars().chain(frac_part.chars()).collect();
    let leading = all.len() - all.trim_start_matches('0').len();
    let significant = all.trim_start_matches('0').trim_end_matches('0').to_owned();
    let point = int_part.len() as i32 - leading as i32 + exponent;
    (significant, point)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(x: f64) -> String {
        let mut s = String::new();
        write_float_repr(x, &mut s);
        s
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
        let mut s = String::new();
        write_float_repr_bare(2.0, &mut s);
        assert_eq!(s, "2");
    }
}
