//! The `Link` response header (RFC 8288), as far as pagination needs it: the target of
//! `rel="next"`.

use http::HeaderMap;
use http::header::LINK;

/// The target of the first `rel="next"` link in `headers`, as written (maybe relative).
pub(crate) fn next(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(next_in)
}

/// `<target>; param; param, <target>; …`: targets are bracketed, so a comma inside one does
/// not split the list.
fn next_in(value: &str) -> Option<String> {
    let mut rest = value;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        if params.split(';').any(is_rel_next) {
            return Some(target.trim().to_owned());
        }
        rest = after;
    }
}

/// `rel=next`, `rel="next"` or `rel="prev next"` (relation types are case-insensitive).
fn is_rel_next(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    name.trim().eq_ignore_ascii_case("rel")
        && value
            .trim()
            .trim_end_matches(',')
            .trim()
            .trim_matches('"')
            .split_whitespace()
            .any(|rel| rel.eq_ignore_ascii_case("next"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(LINK, value.parse().unwrap());
        headers
    }

    #[test]
    fn finds_the_next_link_among_others() {
        let github = r#"<https://api.github.com/user/repos?page=3&per_page=1>; rel="next", <https://api.github.com/user/repos?page=50>; rel="last""#;
        assert_eq!(
            next(&link(github)).as_deref(),
            Some("https://api.github.com/user/repos?page=3&per_page=1")
        );
        assert_eq!(
            next(&link(
                r#"</items?page=1>; rel="prev", </items?a=1,2>; rel=next"#
            ))
            .as_deref(),
            Some("/items?a=1,2")
        );
        assert_eq!(
            next(&link(r#"</a>; rel="prev NEXT""#)).as_deref(),
            Some("/a")
        );
        assert_eq!(next(&link(r#"</a>; rel="last""#)), None);
        assert_eq!(next(&link("garbage")), None);
        assert_eq!(next(&HeaderMap::new()), None);
    }
}
