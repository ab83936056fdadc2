//! HTML parts as text, for bounces that have no plain text part: tags
//! dropped (block tags as line breaks), `<script>` and `<style>` left out,
//! entities decoded.

use crate::text::find_ignore_case;

/// A crude but safe HTML-to-text: drops tags, scripts and styles, decodes the
/// common entities, keeps line structure at block tags.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        let Some(gt) = rest.find('>') else {
            rest = "";
            break;
        };
        let tag = rest[1..gt].trim();
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/');
        let name = &name[..name
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(name.len())];
        // Lower-cased on the stack: pages have thousands of tags, and only
        // names of up to ten letters matter here.
        let mut lower = [0u8; 10];
        let name: &[u8] = match lower.get_mut(..name.len()) {
            Some(slot) => {
                slot.copy_from_slice(name.as_bytes());
                slot.make_ascii_lowercase();
                slot
            }
            None => b"",
        };
        match name {
            b"script" | b"style" if !closing => {
                let close = if name == b"script" {
                    "</script"
                } else {
                    "</style"
                };
                match find_ignore_case(rest, close) {
                    Some(end) => rest = &rest[end..],
                    None => rest = "",
                }
                continue;
            }
            b"br" | b"p" | b"div" | b"tr" | b"li" | b"h1" | b"h2" | b"h3" | b"table"
            | b"blockquote" => out.push('\n'),
            b"td" | b"th" => out.push(' '),
            _ => {}
        }
    }
    out.push_str(rest);
    decode_entities(out)
}

/// Every character reference HTML defines (named, decimal, hexadecimal),
/// by html-escape. `&nbsp;` becomes a plain space first, as the six
/// entities this module knew before did: an NBSP would then stand in reply
/// texts where a space always stood.
pub(super) fn decode_entities(text: String) -> String {
    if !text.contains('&') {
        return text;
    }
    let spaced = text.replace("&nbsp;", " ");
    html_escape::decode_html_entities(&spaced).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_flattened() {
        let t = html_to_text("<p>a&amp;b</p><script>x</script><br>c");
        assert_eq!(t, "\na&b\n\nc");
        let t = html_to_text("<STYLE>p{}</Style>&amp;lt; &lt;&gt;&nbsp;&quot;&#39;&x");
        assert_eq!(t, "&lt; <> \"'&x");
        // Beyond the six entities the module once listed by hand.
        let t = html_to_text("caf&eacute; caf&#233; caf&#xE9; &copy;&nbsp;&amp;nbsp;");
        assert_eq!(t, "caf\u{e9} caf\u{e9} caf\u{e9} \u{a9} &nbsp;");
    }
}
