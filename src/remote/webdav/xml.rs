//! Parsing of WebDAV `207 Multi-Status` bodies (RFC 4918), hardened against
//! hostile servers: no DOCTYPE (so no entity expansion), bounded nesting,
//! bounded item count, and only properties from a `200` propstat count.
//!
//! Pure: bytes in, items out. Href checks against the listed collection
//! are the caller's (it knows the base URL).

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};

/// Elements may nest at most this deep.
pub const MAX_DEPTH: usize = 32;
/// A multistatus may describe at most this many resources.
pub const MAX_ITEMS: usize = 2_000_000;

const DAV: &str = "DAV:";
const OC: &str = "http://owncloud.org/ns";

/// Why a multistatus body was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the server's XML contains a DOCTYPE, which is never accepted")]
    DocType,
    #[error("the server's XML nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the server's XML lists more than {MAX_ITEMS} items")]
    TooMany,
    #[error("the server's XML is malformed: {0}")]
    Malformed(String),
    #[error("the server's XML is not a multistatus")]
    NotMultistatus,
}

/// One `<response>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DavItem {
    /// The href, exactly as sent (still percent-encoded).
    pub href: String,
    pub is_collection: bool,
    pub size: Option<u64>,
    /// `getlastmodified`, as sent (RFC 1123 date).
    pub last_modified: Option<String>,
    pub etag: Option<String>,
    /// `oc:fileid` (Nextcloud, ownCloud).
    pub file_id: Option<String>,
    /// `oc:checksums` (e.g. `SHA1:… MD5:…`).
    pub checksums: Option<String>,
    /// `displayname`, where the server gives one: names an item whose
    /// href is unusable in the problem report.
    pub display_name: Option<String>,
    /// The status of a response that carries one instead of a propstat.
    pub status: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Href,
    Status,
    Size,
    Modified,
    Etag,
    FileId,
    Checksum,
    DisplayName,
}

/// Parse a multistatus body.
pub fn parse_multistatus(body: &[u8]) -> Result<Vec<DavItem>, XmlError> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut saw_root = false;
    // Current response and propstat state.
    let mut item: Option<DavItem> = None;
    let mut props: Option<DavItem> = None;
    let mut propstat_status: Option<u16> = None;
    let mut field: Option<(Field, usize)> = None;
    let mut text = String::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        let is = |ns: &ResolveResult, want: &str| matches!(ns, ResolveResult::Bound(Namespace(n)) if *n == want);
        match event {
            Event::DocType(_) => return Err(XmlError::DocType),
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let name = e.local_name();
                let local = name.as_ref();
                if depth == 1 {
                    if !(is(&ns, DAV) && local == "multistatus") {
                        return Err(XmlError::NotMultistatus);
                    }
                    saw_root = true;
                    continue;
                }
                if is(&ns, DAV) && local == "response" && item.is_none() {
                    if items.len() >= MAX_ITEMS {
                        return Err(XmlError::TooMany);
                    }
                    item = Some(DavItem::default());
                } else if is(&ns, DAV) && local == "propstat" && item.is_some() {
                    props = Some(DavItem::default());
                    propstat_status = None;
                } else if is(&ns, DAV) && local == "collection" {
                    if let Some(p) = props.as_mut() {
                        p.is_collection = true;
                    }
                } else if item.is_some() {
                    let f = if is(&ns, DAV) {
                        match local {
                            "href" if props.is_none() => Some(Field::Href),
                            "status" => Some(Field::Status),
                            "getcontentlength" => Some(Field::Size),
                            "getlastmodified" => Some(Field::Modified),
                            "getetag" => Some(Field::Etag),
                            "displayname" => Some(Field::DisplayName),
                            _ => None,
                        }
                    } else if is(&ns, OC) {
                        match local {
                            "fileid" => Some(Field::FileId),
                            "checksum" => Some(Field::Checksum),
                            _ => None,
                        }
                    } else {
                        None
                    };
                    if let Some(f) = f {
                        field = Some((f, depth));
                        text.clear();
                    }
                }
            }
            Event::Empty(e) => {
                if depth + 1 > MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                if is(&ns, DAV) && e.local_name().as_ref() == "collection" {
                    if let Some(p) = props.as_mut() {
                        p.is_collection = true;
                    }
                }
            }
            Event::Text(t) if field.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if field.is_some() => text.push_str(&t),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    text.push_str(s);
                } else {
                    return Err(XmlError::Malformed(format!("unknown entity &{};", &*r)));
                }
            }
            Event::End(e) => {
                if let Some((f, d)) = field {
                    if d == depth {
                        let value = std::mem::take(&mut text);
                        match f {
                            Field::Href => {
                                if let Some(i) = item.as_mut() {
                                    i.href = value;
                                }
                            }
                            Field::Status => {
                                let code = parse_status(&value);
                                if props.is_some() {
                                    propstat_status = code;
                                } else if let Some(i) = item.as_mut() {
                                    i.status = code;
                                }
                            }
                            _ => {
                                if let Some(p) = props.as_mut() {
                                    set_field(p, f, value);
                                }
                            }
                        }
                        field = None;
                    }
                }
                let name = e.local_name();
                if is(&ns, DAV) && name.as_ref() == "propstat" {
                    if let (Some(p), Some(i)) = (props.take(), item.as_mut()) {
                        if propstat_status == Some(200) {
                            merge(i, p);
                        }
                    }
                } else if is(&ns, DAV) && name.as_ref() == "response" && depth == 2 {
                    if let Some(i) = item.take() {
                        items.push(i);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(XmlError::NotMultistatus);
    }
    if depth != 0 {
        return Err(XmlError::Malformed("the document ends early".into()));
    }
    Ok(items)
}

fn parse_status(line: &str) -> Option<u16> {
    // "HTTP/1.1 200 OK"
    line.split_whitespace().nth(1)?.parse().ok()
}

fn set_field(p: &mut DavItem, f: Field, value: String) {
    let value = value.trim().to_string();
    match f {
        Field::Size => p.size = value.parse().ok(),
        Field::Modified => p.last_modified = Some(value),
        Field::Etag => p.etag = Some(value),
        Field::FileId => p.file_id = Some(value),
        Field::DisplayName => p.display_name = Some(value),
        Field::Checksum => {
            p.checksums = Some(match p.checksums.take() {
                Some(prev) => format!("{prev} {value}"),
                None => value,
            })
        }
        Field::Href | Field::Status => {}
    }
}

fn merge(into: &mut DavItem, from: DavItem) {
    into.is_collection |= from.is_collection;
    into.size = into.size.or(from.size);
    into.last_modified = into.last_modified.take().or(from.last_modified);
    into.etag = into.etag.take().or(from.etag);
    into.file_id = into.file_id.take().or(from.file_id);
    into.checksums = into.checksums.take().or(from.checksums);
    into.display_name = into.display_name.take().or(from.display_name);
}

#[cfg(test)]
mod tests {
    use super::*;

    const APACHE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/dav/sync/</D:href>
<D:propstat><D:prop><lp1:resourcetype><D:collection/></lp1:resourcetype>
<lp1:getlastmodified>Sun, 22 Nov 2026 10:00:00 GMT</lp1:getlastmodified>
<lp1:getetag>"1000-5d1"</lp1:getetag></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat>
</D:response>
<D:response xmlns:lp1="DAV:">
<D:href>/dav/sync/a%20b%23c.txt</D:href>
<D:propstat><D:prop><lp1:resourcetype/>
<lp1:getcontentlength>12</lp1:getcontentlength>
<lp1:getlastmodified>Sun, 22 Nov 2026 10:00:01 GMT</lp1:getlastmodified>
<lp1:getetag>W/"c-5d2"</lp1:getetag></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat>
<D:propstat><D:prop><oc:fileid xmlns:oc="http://owncloud.org/ns"/></D:prop>
<D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
</D:response>
</D:multistatus>"#;

    #[test]
    fn parses_apache_listing() {
        let items = parse_multistatus(APACHE.as_bytes()).unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_collection);
        assert_eq!(items[1].href, "/dav/sync/a%20b%23c.txt");
        assert_eq!(items[1].size, Some(12));
        assert_eq!(items[1].etag.as_deref(), Some("W/\"c-5d2\""));
        assert!(!items[1].is_collection);
        assert_eq!(items[1].file_id, None);
    }

    #[test]
    fn parses_nextcloud_props_and_entities() {
        let body = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
<d:response><d:href>/remote.php/dav/files/u/R&amp;D/</d:href>
<d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>
<oc:fileid>00000042oc</oc:fileid><d:getetag>&quot;5f&quot;</d:getetag></d:prop>
<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
<d:response><d:href>/remote.php/dav/files/u/R&amp;D/x&#x2F;y</d:href>
<d:propstat><d:prop><d:getcontentlength>3</d:getcontentlength>
<oc:checksums><oc:checksum>SHA1:abc MD5:def</oc:checksum></oc:checksums></d:prop>
<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"#;
        let items = parse_multistatus(body.as_bytes()).unwrap();
        assert_eq!(items[0].href, "/remote.php/dav/files/u/R&D/");
        assert_eq!(items[0].file_id.as_deref(), Some("00000042oc"));
        assert_eq!(items[0].etag.as_deref(), Some("\"5f\""));
        assert_eq!(items[1].href, "/remote.php/dav/files/u/R&D/x/y");
        assert_eq!(items[1].checksums.as_deref(), Some("SHA1:abc MD5:def"));
    }

    #[test]
    fn rejects_doctype_and_entities() {
        let body = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>&a;</d:href></d:response></d:multistatus>"#;
        assert_eq!(parse_multistatus(body.as_bytes()), Err(XmlError::DocType));
        let body = r#"<d:multistatus xmlns:d="DAV:"><d:response><d:href>&a;</d:href></d:response></d:multistatus>"#;
        assert!(matches!(
            parse_multistatus(body.as_bytes()),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_deep_nesting_truncation_and_html() {
        let deep = format!(
            "<d:multistatus xmlns:d=\"DAV:\">{}{}</d:multistatus>",
            "<x>".repeat(100),
            "</x>".repeat(100)
        );
        assert_eq!(parse_multistatus(deep.as_bytes()), Err(XmlError::TooDeep));
        let cut = &APACHE[..APACHE.len() / 2];
        assert!(parse_multistatus(cut.as_bytes()).is_err());
        assert_eq!(
            parse_multistatus(b"<html><body>Login</body></html>"),
            Err(XmlError::NotMultistatus)
        );
        assert!(parse_multistatus(b"").is_err());
    }
}
