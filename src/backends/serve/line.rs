//! Request lines read as bytes with a length limit, so that a line of
//! invalid UTF-8 is one bad request rather than the end of the input, and
//! an overlong line is answered without being held in memory.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// How reading one line ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line is in the buffer, without its line ending.
    Read,
    /// The line was longer than the limit: it was read to its end and
    /// dropped.
    TooLong,
    /// The input ended.
    End,
}

/// Reads the next line into `line` (cleared first), keeping at most `max`
/// bytes of it; a longer line is consumed up to its newline without being
/// kept. A last line without a newline counts as a line.
pub async fn read_line<R: AsyncBufRead + Unpin>(input: &mut R, line: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    line.clear();
    let (mut any, mut too_long) = (false, false);
    loop {
        let buffer = input.fill_buf().await?;
        if buffer.is_empty() {
            break;
        }
        any = true;
        let newline = memchr::memchr(b'\n', buffer);
        let chunk = &buffer[..newline.unwrap_or(buffer.len())];
        if !too_long && line.len() + chunk.len() > max {
            too_long = true;
            line.clear();
            line.shrink_to(0);
        } else if !too_long {
            line.extend_from_slice(chunk);
        }
        let used = newline.map_or(buffer.len(), |at| at + 1);
        input.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(match (any, too_long) {
        (false, _) => Line::End,
        (true, true) => Line::TooLong,
        (true, false) => Line::Read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of `input` read through a buffer of `capacity` bytes.
    async fn lines(input: &[u8], capacity: usize, max: usize) -> Vec<(Line, String)> {
        let mut reader = tokio::io::BufReader::with_capacity(capacity, input);
        let (mut line, mut all) = (Vec::new(), Vec::new());
        loop {
            match read_line(&mut reader, &mut line, max).await.unwrap() {
                Line::End => return all,
                ended => all.push((ended, String::from_utf8_lossy(&line).into_owned())),
            }
        }
    }

    #[tokio::test]
    async fn lines_across_buffer_boundaries_with_a_limit() {
        let input = b"short\r\nexactly-10\nthis one is too long\n\nlast";
        for capacity in [1, 3, 8, 64] {
            let read = lines(input, capacity, 10).await;
            let want = [(Line::Read, "short"), (Line::Read, "exactly-10"), (Line::TooLong, ""), (Line::Read, ""), (Line::Read, "last")];
            let want: Vec<(Line, String)> = want.into_iter().map(|(l, s)| (l, s.to_owned())).collect();
            assert_eq!(read, want, "buffer of {capacity} bytes");
        }
    }

    #[tokio::test]
    async fn invalid_utf8_is_a_line_like_any_other() {
        assert_eq!(lines(b"\xff\xfe\n{}\n", 4, 100).await, [(Line::Read, "\u{fffd}\u{fffd}".to_owned()), (Line::Read, "{}".to_owned())]);
    }
}
