//! Absence is not evidence: the base items a side's observation does not
//! show, and how a pass settles them once a direct request for each has
//! answered.
//!
//! A listing that omits items (a server that answers `Depth: infinity`
//! with one level, a folder the scanner could not read) looks exactly like
//! a deletion. So before planning, the pass asks [`missing_tops`] which base
//! items are missing from a side — only the *top* of each missing subtree,
//! the one whose parent the observation does show — requests each one
//! directly, and hands the answers to [`settle`]: an item confirmed gone
//! stays missing (the planner deletes or moves as usual); an item that is
//! there after all, or that could not be checked, is put back into the
//! observed tree as the base recorded it, with everything below it, so the
//! planner sees that subtree as unchanged on that side, and a problem says
//! so. Pure: the requests are the caller's.

use std::collections::{HashMap, HashSet};

use super::filter::Filter;
use super::plan::Problem;
use super::tree::{BaseTree, Entry, Kind, Side, Tree, keep_unobserved, parent};

/// What the direct request for a missing item said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// It does not exist (a 404; no such file).
    Gone,
    /// It is there: what the request saw.
    There(Entry),
    /// The request failed: why.
    Failed(String),
}

/// The base items (that the planner would look at) missing from `tree`
/// whose parent is not missing too, in path order: one direct request for
/// each confirms a whole missing subtree.
///
/// Base items the filter excludes or selective sync deselects are skipped:
/// the observation leaves them out on purpose. So is an item whose parent
/// the observation shows as a file: that is evidence enough (a folder
/// replaced by a file), and a request below a file proves nothing.
pub fn missing_tops(tree: &Tree, base: &BaseTree, filter: &Filter) -> Vec<String> {
    let mut tops: Vec<String> = Vec::new();
    let mut missing: HashSet<&str> = HashSet::new();
    let mut seen = tree.keys().peekable();
    for (path, b) in base {
        // Both maps are sorted: walk them side by side, no lookups.
        while seen.next_if(|k| k.as_str() < path.as_str()).is_some() {}
        if seen.peek().is_some_and(|k| *k == path) {
            continue;
        }
        if filter.excluded_path(path, b.kind, b.local.size).is_some() || filter.deselected(path) {
            continue;
        }
        missing.insert(path);
        let mut up = parent(path);
        let mut under_missing = false;
        while !up.is_empty() {
            if missing.contains(up) {
                under_missing = true;
                break;
            }
            up = parent(up);
        }
        let parent_is_file = tree.get(parent(path)).is_some_and(|e| e.kind == Kind::File);
        if !under_missing && !parent_is_file {
            tops.push(path.clone());
        }
    }
    tops
}

/// Put the missing item `top` and every base item below it that `tree`
/// does not show back into `tree`, as the base recorded them: the planner
/// then sees that subtree as unchanged on `side`.
pub fn pin_to_base(tree: &mut Tree, base: &BaseTree, side: Side, top: &str) {
    keep_unobserved(tree, base, side, &[top.to_string()]);
}

/// The identities the observation shows at paths the base does not know,
/// with those paths, where `unique_ids`.
fn new_ids<'t>(tree: &'t Tree, base: &BaseTree, unique_ids: bool) -> HashMap<&'t str, &'t str> {
    if !unique_ids {
        return HashMap::new();
    }
    tree.iter()
        .filter(|(k, _)| !base.contains_key(*k))
        .filter_map(|(k, e)| e.id.as_deref().map(|id| (id, k.as_str())))
        .collect()
}

/// The paths where the observation shows a missing top's identity anew
/// (a rename, if a direct request there confirms it): each needs a direct
/// request of its own before [`settle`], its answer added to the answers
/// under that path. Only where `unique_ids`.
pub fn renamed_to(
    tree: &Tree,
    tops: &[String],
    base: &BaseTree,
    answers: &HashMap<String, Answer>,
    unique_ids: bool,
) -> Vec<String> {
    let ids = new_ids(tree, base, unique_ids);
    let mut out: Vec<String> = tops
        .iter()
        .filter_map(|t| match answers.get(t) {
            Some(Answer::There(e)) => e.id.as_deref().and_then(|id| ids.get(id)),
            _ => None,
        })
        .map(|p| p.to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Settle the missing tops of `side` with the direct requests' answers:
/// * [`Answer::Gone`] — confirmed: the item stays missing;
/// * [`Answer::There`] — put back as the base recorded it (with its
///   subtree) and reported, unless `unique_ids` (the side's ids are real
///   identities: inodes, server file ids), the observation shows the same
///   identity at a new path, and a direct request of that path (its answer
///   in `answers` too, see [`renamed_to`]) found that identity there: then
///   it was renamed (such as a change of case on a case-insensitive disk),
///   and its absence at the old path stands. (An observation that names an
///   item wrongly — a server that sends a `%` in a name unencoded — shows
///   its identity at a path where a direct request finds nothing.)
/// * [`Answer::Failed`] — put back and reported.
///
/// A top with no answer is put back too: nothing missing is acted on
/// unconfirmed. Returns the problems for the report.
pub fn settle(
    tree: &mut Tree,
    base: &BaseTree,
    side: Side,
    tops: &[String],
    answers: &HashMap<String, Answer>,
    unique_ids: bool,
) -> Vec<Problem> {
    let what = match side {
        Side::Local => "the scan of the local folder",
        Side::Remote => "the server's listing",
    };
    let still = match side {
        Side::Local => "it is still on disk",
        Side::Remote => "the server still has it",
    };
    // Identities the observation shows at paths the base does not know:
    // a rename only where a direct request found the identity there too.
    let renamed: HashSet<String> = new_ids(tree, base, unique_ids)
        .into_iter()
        .filter(|(id, path)| {
            matches!(answers.get(*path), Some(Answer::There(e)) if e.id.as_deref() == Some(*id))
        })
        .map(|(id, _)| id.to_string())
        .collect();
    let mut put_back: Vec<(&str, String)> = Vec::new();
    for top in tops {
        let message = match answers.get(top) {
            Some(Answer::Gone) => continue,
            Some(Answer::There(e)) => {
                if e.id.as_deref().is_some_and(|id| renamed.contains(id)) {
                    continue;
                }
                format!("missing from {what}, but {still}: left alone this pass")
            }
            Some(Answer::Failed(why)) => format!(
                "missing from {what}, and checking it directly failed ({why}): left alone this pass"
            ),
            None => format!("missing from {what} and not checked: left alone this pass"),
        };
        put_back.push((top, message));
    }
    let mut problems = Vec::new();
    for (top, message) in put_back {
        pin_to_base(tree, base, side, top);
        problems.push(Problem {
            path: top.to_string(),
            side: Some(side),
            message,
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tree::{BaseEntry, Sig};

    fn b(kind: Kind, id: &str) -> BaseEntry {
        let sig = Sig {
            size: 1,
            mtime: 7,
            id: Some(id.into()),
            etag: None,
        };
        BaseEntry {
            kind,
            local: sig.clone(),
            remote: sig,
            hash: None,
        }
    }

    fn base() -> BaseTree {
        let mut base = BaseTree::new();
        for (p, k) in [
            ("a", Kind::Dir),
            ("a/x", Kind::File),
            ("a/y", Kind::Dir),
            ("a/y/z", Kind::File),
            ("a b", Kind::File),
            ("c", Kind::File),
            (".env", Kind::File),
        ] {
            base.insert(p.into(), b(k, p));
        }
        base
    }

    #[test]
    fn only_the_top_of_a_missing_subtree_is_asked_for() {
        let base = base();
        let mut tree = Tree::new();
        for p in ["a", "a b", "c"] {
            tree.insert(p.into(), base[p].entry(Side::Remote));
        }
        let tops = missing_tops(&tree, &base, &Filter::default());
        assert_eq!(tops, ["a/x", "a/y"]);
        tree.remove("a");
        let tops = missing_tops(&tree, &base, &Filter::default());
        assert_eq!(tops, ["a"]);
        // A folder replaced by a file: what was in it is gone, no question.
        tree.insert("a".into(), Entry::file(3, 9));
        assert!(missing_tops(&tree, &base, &Filter::default()).is_empty());
        // Nothing missing: nothing to ask.
        let full: Tree = base
            .iter()
            .map(|(k, v)| (k.clone(), v.entry(Side::Local)))
            .collect();
        assert!(missing_tops(&full, &base, &Filter::default()).is_empty());
    }

    #[test]
    fn an_unconfirmed_absence_is_pinned_to_the_base_and_reported() {
        let base = base();
        let mut tree = Tree::new();
        for p in ["a", "a b", "c"] {
            tree.insert(p.into(), base[p].entry(Side::Remote));
        }
        let tops = missing_tops(&tree, &base, &Filter::default());
        let answers: HashMap<String, Answer> = [
            ("a/x".to_string(), Answer::Gone),
            ("a/y".to_string(), Answer::There(Entry::dir())),
        ]
        .into_iter()
        .collect();
        let problems = settle(&mut tree, &base, Side::Remote, &tops, &answers, false);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "a/y");
        assert!(!tree.contains_key("a/x"));
        assert_eq!(tree.get("a/y/z"), Some(&base["a/y/z"].entry(Side::Remote)));
        // A failed or missing answer is no confirmation either.
        let mut tree2 = Tree::new();
        let tops = missing_tops(&tree2, &base, &Filter::default());
        let answers: HashMap<String, Answer> =
            [("a".to_string(), Answer::Failed("timeout".into()))]
                .into_iter()
                .collect();
        let problems = settle(&mut tree2, &base, Side::Local, &tops, &answers, true);
        assert_eq!(problems.len(), 3);
        assert_eq!(tree2.len(), base.len() - 1, "all but the excluded .env");
    }

    #[test]
    fn an_item_seen_under_a_new_name_is_a_rename_not_a_leftover() {
        let base = base();
        let mut tree: Tree = base
            .iter()
            .filter(|(k, _)| *k != "c")
            .map(|(k, v)| (k.clone(), v.entry(Side::Local)))
            .collect();
        tree.insert("C".into(), base["c"].entry(Side::Local));
        let tops = missing_tops(&tree, &base, &Filter::default());
        assert_eq!(tops, ["c"]);
        let there = Answer::There(base["c"].entry(Side::Local));
        let mut answers: HashMap<String, Answer> =
            [("c".to_string(), there.clone())].into_iter().collect();
        // The new path is asked for directly, and has that identity.
        assert_eq!(renamed_to(&tree, &tops, &base, &answers, true), ["C"]);
        answers.insert("C".into(), there);
        let mut t = tree.clone();
        assert!(settle(&mut t, &base, Side::Local, &tops, &answers, true).is_empty());
        assert!(!t.contains_key("c"));
        // Where ids are not identities (an entity tag), it is put back.
        let mut t = tree.clone();
        assert_eq!(
            settle(&mut t, &base, Side::Remote, &tops, &answers, false).len(),
            1
        );
        assert!(t.contains_key("c"));
    }

    #[test]
    fn an_identity_listed_under_a_name_a_direct_request_does_not_find_is_no_rename() {
        // A server that sends `50%20off.txt` unencoded: the listing shows
        // the file's id at `50 off.txt`, where nothing is.
        let base = base();
        let mut tree: Tree = base
            .iter()
            .filter(|(k, _)| *k != "c")
            .map(|(k, v)| (k.clone(), v.entry(Side::Remote)))
            .collect();
        tree.insert("c decoded".into(), base["c"].entry(Side::Remote));
        let tops = missing_tops(&tree, &base, &Filter::default());
        let mut answers: HashMap<String, Answer> = [(
            "c".to_string(),
            Answer::There(base["c"].entry(Side::Remote)),
        )]
        .into_iter()
        .collect();
        assert_eq!(
            renamed_to(&tree, &tops, &base, &answers, true),
            ["c decoded"]
        );
        for at_new in [None, Some(Answer::Gone)] {
            if let Some(a) = at_new {
                answers.insert("c decoded".into(), a);
            }
            let mut t = tree.clone();
            let problems = settle(&mut t, &base, Side::Remote, &tops, &answers, true);
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(t.contains_key("c"), "the absence was taken for a rename");
        }
    }
}
