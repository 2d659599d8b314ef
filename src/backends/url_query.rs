//! Query parameters of backend URLs that the client libraries do not know
//! (Redis's `prefix`, PostgreSQL's `table`), taken out before the URL is
//! handed to them.

/// Removes the query parameter `name` from `url`: the URL without it (no
/// `?` left when the query becomes empty) and its percent-decoded value.
/// Used by the Redis (`prefix`) and Postgres (`table`) backends, whose
/// client libraries refuse parameters they do not know.
pub(crate) fn take_query_param(url: &str, name: &str) -> Result<(String, Option<String>), String> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None)) };
    let mut value = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if key != name {
            kept.push(pair);
        } else if value.is_some() {
            return Err(format!("the parameter {name:?} is given twice"));
        } else {
            value = Some(percent_decode(raw).ok_or_else(|| format!("the parameter {name:?} is not valid percent-encoded UTF-8"))?);
        }
    }
    let stripped = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((stripped, value))
}

/// `%XX` sequences decoded; `None` for a malformed escape or non-UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_taken_out() {
        assert_eq!(take_query_param("redis://h:1/0", "prefix"), Ok(("redis://h:1/0".to_owned(), None)));
        assert_eq!(take_query_param("redis://h:1/0?prefix=a%2Fb%3F", "prefix"), Ok(("redis://h:1/0".to_owned(), Some("a/b?".to_owned()))));
        assert_eq!(
            take_query_param("postgres://u@h/d?sslmode=disable&table=t&x=1", "table"),
            Ok(("postgres://u@h/d?sslmode=disable&x=1".to_owned(), Some("t".to_owned())))
        );
        assert!(take_query_param("redis://h/0?prefix=a&prefix=b", "prefix").is_err());
        assert!(take_query_param("redis://h/0?prefix=%zz", "prefix").is_err());
    }
}
