//! A tree of topic levels, the index the broker routes by: subscriptions keyed by their filter
//! (found from a topic name) and retained messages keyed by their topic (found from a filter).
//! Both walks visit only the branches that can match, so a publish costs the depth of the topic
//! and the matches, not the number of subscriptions, and a subscribe the retained messages it
//! matches, not all of them (MQTT 5.0 §4.7).

use std::collections::HashMap;

/// One level of the tree: the values kept at this exact path and the next levels.
#[derive(Debug)]
struct Node<V> {
    values: Vec<V>,
    children: HashMap<Box<str>, Node<V>>,
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Node { values: Vec::new(), children: HashMap::new() }
    }
}

impl<V> Node<V> {
    fn is_empty(&self) -> bool {
        self.values.is_empty() && self.children.is_empty()
    }
}

/// Values filed under `/`-separated paths (topic filters, with `+` and `#` as plain levels, or
/// topic names).
#[derive(Debug)]
pub struct Tree<V> {
    root: Node<V>,
    len: usize,
}

impl<V> Default for Tree<V> {
    fn default() -> Self {
        Tree { root: Node::default(), len: 0 }
    }
}

impl<V> Tree<V> {
    /// How many values the tree holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The values at exactly `path`, to add, change or remove some (then call [`Tree::prune`]
    /// if it may have become empty).
    pub fn entry(&mut self, path: &str) -> &mut Vec<V> {
        let mut node = &mut self.root;
        for level in path.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        &mut node.values
    }

    /// Keeps the values at `path` for which `keep` says so; drops the branch when it is left
    /// empty. Returns how many were removed.
    pub fn retain(&mut self, path: &str, keep: impl FnMut(&V) -> bool) -> usize {
        fn walk<V>(node: &mut Node<V>, levels: &[&str], keep: impl FnMut(&V) -> bool) -> usize {
            let Some((first, rest)) = levels.split_first() else {
                let before = node.values.len();
                node.values.retain(keep);
                return before - node.values.len();
            };
            let Some(child) = node.children.get_mut(*first) else { return 0 };
            let removed = walk(child, rest, keep);
            if child.is_empty() {
                node.children.remove(*first);
            }
            removed
        }
        let levels: Vec<&str> = path.split('/').collect();
        let removed = walk(&mut self.root, &levels, keep);
        self.len -= removed;
        removed
    }

    /// The values at exactly `path`.
    pub fn get(&self, path: &str) -> &[V] {
        let mut node = &self.root;
        for level in path.split('/') {
            match node.children.get(level) {
                Some(child) => node = child,
                None => return &[],
            }
        }
        &node.values
    }

    /// Every value in the tree.
    pub fn for_each<'t>(&'t self, mut visit: impl FnMut(&'t V)) {
        fn all<'t, V>(node: &'t Node<V>, visit: &mut impl FnMut(&'t V)) {
            node.values.iter().for_each(&mut *visit);
            for child in node.children.values() {
                all(child, visit);
            }
        }
        all(&self.root, &mut visit);
    }

    /// Counts `n` values added through [`Tree::entry`].
    pub fn added(&mut self, n: usize) {
        self.len += n;
    }

    /// Every value whose path, read as a topic filter, matches the topic name `topic`
    /// (subscriptions for a PUBLISH). A topic starting with `$` is not matched by a filter
    /// starting with a wildcard [MQTT-4.7.2-1].
    pub fn filters_matching<'t>(&'t self, topic: &str, mut visit: impl FnMut(&'t V)) {
        fn walk<'t, V>(
            node: &'t Node<V>,
            levels: &[&str],
            root: bool,
            visit: &mut impl FnMut(&'t V),
        ) {
            let dollar = root && levels.first().is_some_and(|l| l.starts_with('$'));
            if !dollar && let Some(hash) = node.children.get("#") {
                // `a/#` matches `a` and everything under it [MQTT-4.7.1-1].
                hash.values.iter().for_each(&mut *visit);
            }
            let Some((first, rest)) = levels.split_first() else {
                node.values.iter().for_each(visit);
                return;
            };
            if let Some(child) = node.children.get(*first) {
                walk(child, rest, false, visit);
            }
            if !dollar && let Some(plus) = node.children.get("+") {
                walk(plus, rest, false, visit);
            }
        }
        let levels: Vec<&str> = topic.split('/').collect();
        walk(&self.root, &levels, true, &mut visit);
    }

    /// Every value whose path, read as a topic name, matches the topic filter `filter`
    /// (retained messages for a SUBSCRIBE), with the same `$` rule.
    pub fn names_matching<'t>(&'t self, filter: &str, mut visit: impl FnMut(&'t V)) {
        fn all<'t, V>(node: &'t Node<V>, root: bool, visit: &mut impl FnMut(&'t V)) {
            node.values.iter().for_each(&mut *visit);
            for (level, child) in &node.children {
                if !(root && level.starts_with('$')) {
                    all(child, false, visit);
                }
            }
        }
        fn walk<'t, V>(
            node: &'t Node<V>,
            levels: &[&str],
            root: bool,
            visit: &mut impl FnMut(&'t V),
        ) {
            let Some((first, rest)) = levels.split_first() else {
                node.values.iter().for_each(visit);
                return;
            };
            match *first {
                "#" => all(node, root, visit),
                "+" => {
                    for (level, child) in &node.children {
                        if !(root && level.starts_with('$')) {
                            walk(child, rest, false, visit);
                        }
                    }
                }
                exact => {
                    if let Some(child) = node.children.get(exact) {
                        walk(child, rest, false, visit);
                    }
                }
            }
        }
        let levels: Vec<&str> = filter.split('/').collect();
        walk(&self.root, &levels, true, &mut visit);
    }
}

#[cfg(test)]
mod tests {
    use super::Tree;
    use mqtt_ws::mqtt::topic;

    const FILTERS: &[&str] = &[
        "#",
        "+",
        "a",
        "a/#",
        "a/+",
        "a/b",
        "a/b/c",
        "+/b",
        "+/+",
        "a/+/c",
        "/a",
        "/+",
        "+/#",
        "$SYS/#",
        "$SYS/+",
        "a//b",
        "a/+/+",
        "sport/tennis/#",
    ];
    const TOPICS: &[&str] = &[
        "a",
        "a/b",
        "a/b/c",
        "b",
        "/a",
        "a//b",
        "$SYS/load",
        "$SYS",
        "sport/tennis",
        "sport/tennis/player1",
        "x/b",
        "a/b/c/d",
        "/",
    ];

    /// Both walks agree with the crate's own filter matching, pair by pair.
    #[test]
    fn walks_agree_with_topic_matches() {
        let mut subs = Tree::default();
        for f in FILTERS {
            subs.entry(f).push(*f);
        }
        let mut retained = Tree::default();
        for t in TOPICS {
            retained.entry(t).push(*t);
        }
        for t in TOPICS {
            let mut found = Vec::new();
            subs.filters_matching(t, |f| found.push(*f));
            found.sort();
            let mut want: Vec<&str> =
                FILTERS.iter().copied().filter(|f| topic::matches(f, t)).collect();
            want.sort();
            assert_eq!(found, want, "topic {t:?}");
        }
        for f in FILTERS {
            let mut found = Vec::new();
            retained.names_matching(f, |t| found.push(*t));
            found.sort();
            let mut want: Vec<&str> =
                TOPICS.iter().copied().filter(|t| topic::matches(f, t)).collect();
            want.sort();
            assert_eq!(found, want, "filter {f:?}");
        }
    }

    #[test]
    fn retain_prunes_empty_branches() {
        let mut t = Tree::default();
        t.entry("a/b/c").push(1);
        t.entry("a/b/c").push(2);
        t.entry("a/x").push(3);
        t.added(3);
        assert_eq!(t.retain("a/b/c", |v| *v != 1), 1);
        assert_eq!(t.retain("a/b/c", |_| false), 1);
        assert_eq!(t.retain("a/nothing", |_| false), 0);
        assert_eq!(t.len(), 1);
        assert!(!t.root.children["a"].children.contains_key("b"));
        assert_eq!(t.retain("a/x", |_| false), 1);
        assert!(t.root.is_empty());
    }
}
