//! Maven's `ComparableVersion` order, as in maven-artifact 3.8 (the version Debian ships).
//!
//! A version is lower-cased and split into a tree: `.` separates items of one list, `-`
//! (and every switch between digits and letters) opens a nested list. Numbers compare
//! numerically; qualifiers compare by rank — `alpha`/`a` < `beta`/`b` < `milestone`/`m` <
//! `rc`/`cr` < `snapshot` < (release, `ga`, `final`, `release`) < `sp` — and qualifiers Maven
//! does not know sort after `sp`, alphabetically among themselves. `a`, `b` and `m` are only
//! aliases when a digit follows (`1-a1` is `1-alpha-1`, `1-a` is the unknown qualifier `a`).
//! Trailing "null" items (`0`, release qualifiers, empty lists) are dropped, so `1.0.0` =
//! `1` and `1-ga` = `1`. Between kinds: number > list > qualifier.

use std::cmp::Ordering;

use super::ParseError;

/// Inputs longer than this are rejected: every `-` or digit/letter switch nests a list, and
/// comparing is recursive, so the length bounds the recursion depth.
const MAX_LEN: usize = 512;

/// A qualifier's comparison key. Maven compares the strings `"0"`…`"6"` for known qualifiers
/// and `"7-<name>"` for unknown ones, which is exactly this enum's derived order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Qualifier {
    Known(u8),
    Unknown(String),
}

const RELEASE_RANK: u8 = 5;

impl Qualifier {
    fn new(value: &str, followed_by_digit: bool) -> Qualifier {
        let value = match (followed_by_digit, value) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "ga" | "final" | "release") => "",
            (_, "cr") => "rc",
            (_, v) => v,
        };
        match value {
            "alpha" => Qualifier::Known(0),
            "beta" => Qualifier::Known(1),
            "milestone" => Qualifier::Known(2),
            "rc" => Qualifier::Known(3),
            "snapshot" => Qualifier::Known(4),
            "" => Qualifier::Known(RELEASE_RANK),
            "sp" => Qualifier::Known(6),
            other => Qualifier::Unknown(other.to_owned()),
        }
    }

    fn is_release(&self) -> bool {
        *self == Qualifier::Known(RELEASE_RANK)
    }
}

#[derive(Debug, Clone)]
enum Item {
    /// Digits without leading zeros (`"0"` for zero), compared by length, then text.
    Int(Box<str>),
    Str(Qualifier),
    List(Vec<Item>),
}

impl Item {
    /// Compares with another item, or with "nothing" when the other list is shorter.
    fn compare(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(d), None) => {
                if &**d == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(q), None) => q.cmp(&Qualifier::Known(RELEASE_RANK)),
            (Item::Str(a), Some(Item::Str(b))) => a.cmp(b),
            (Item::Str(_), Some(_)) => Ordering::Less,
            (Item::List(l), None) => l
                .iter()
                .map(|i| i.compare(None))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => compare_lists(a, b),
        }
    }
}

/// Compares two lists item by item; the shorter one is padded with "nothing".
fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    let n = a.len().max(b.len());
    for k in 0..n {
        let o = match (a.get(k), b.get(k)) {
            (Some(x), y) => x.compare(y),
            (None, Some(y)) => y.compare(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if o.is_ne() {
            return o;
        }
    }
    Ordering::Equal
}

/// A node of the list tree while parsing: lists refer to their children by index so the
/// tree can be built without shared mutable references.
enum Node {
    Int(Box<str>),
    Str(Qualifier),
    List(usize),
}

fn int_item(digits: &str) -> Node {
    let t = digits.trim_start_matches('0');
    Node::Int(if t.is_empty() { "0".into() } else { t.into() })
}

fn parse_item(is_digit: bool, buf: &str) -> Node {
    if is_digit {
        int_item(buf)
    } else {
        Node::Str(Qualifier::new(buf, false))
    }
}

struct Builder {
    lists: Vec<Vec<Node>>,
    cur: usize,
}

impl Builder {
    fn push(&mut self, n: Node) {
        if let Some(l) = self.lists.get_mut(self.cur) {
            l.push(n);
        }
    }

    fn open_list(&mut self) {
        let id = self.lists.len();
        self.lists.push(Vec::new());
        self.push(Node::List(id));
        self.cur = id;
    }

    fn cur_is_empty(&self) -> bool {
        self.lists.get(self.cur).is_none_or(Vec::is_empty)
    }
}

/// A parsed Maven version.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    raw: Box<str>,
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parses a version. Maven accepts every string; Sentari rejects only the empty string
    /// and strings over 512 bytes.
    pub fn parse(input: &str) -> Result<MavenVersion, ParseError> {
        if input.is_empty() {
            return Err(ParseError::new("version string is empty"));
        }
        if input.len() > MAX_LEN {
            return Err(ParseError::new("version is longer than 512 bytes"));
        }
        let v = input.to_lowercase();
        let chars: Vec<(usize, char)> = v.char_indices().collect();
        let mut b = Builder {
            lists: vec![Vec::new()],
            cur: 0,
        };
        let mut is_digit = false;
        let mut start = 0usize;
        for &(i, c) in &chars {
            match c {
                '.' => {
                    if i == start {
                        b.push(Node::Int("0".into()));
                    } else {
                        b.push(parse_item(is_digit, &v[start..i]));
                    }
                    start = i + 1;
                }
                '-' => {
                    if i == start {
                        b.push(Node::Int("0".into()));
                    } else {
                        b.push(parse_item(is_digit, &v[start..i]));
                    }
                    start = i + 1;
                    b.open_list();
                }
                c if c.is_ascii_digit() => {
                    if !is_digit && i > start {
                        // `1.0.0.X1 < 1.0.0-X2`: a qualifier after a dot starts a list too.
                        if !b.cur_is_empty() {
                            b.open_list();
                        }
                        b.push(Node::Str(Qualifier::new(&v[start..i], true)));
                        start = i;
                        b.open_list();
                    }
                    is_digit = true;
                }
                _ => {
                    if is_digit && i > start {
                        b.push(int_item(&v[start..i]));
                        start = i;
                        b.open_list();
                    }
                    is_digit = false;
                }
            }
        }
        if v.len() > start {
            if !is_digit && !b.cur_is_empty() {
                b.open_list();
            }
            b.push(parse_item(is_digit, &v[start..]));
        }
        // Lists were created parent first, so normalising in reverse creation order sees
        // every child list already normalised, as Maven's stack does.
        for id in (0..b.lists.len()).rev() {
            let child_empty: Vec<bool> = b.lists[id]
                .iter()
                .map(|n| match n {
                    Node::List(c) => b.lists.get(*c).is_none_or(Vec::is_empty),
                    _ => false,
                })
                .collect();
            let list = &mut b.lists[id];
            let mut k = list.len();
            while k > 0 {
                k -= 1;
                let null = match &list[k] {
                    Node::Int(d) => &**d == "0",
                    Node::Str(q) => q.is_release(),
                    Node::List(_) => child_empty[k],
                };
                if null {
                    list.remove(k);
                } else if !matches!(list[k], Node::List(_)) {
                    break;
                }
            }
        }
        let mut lists: Vec<Option<Vec<Node>>> = b.lists.into_iter().map(Some).collect();
        let items = build(&mut lists, 0);
        Ok(MavenVersion {
            raw: input.into(),
            items,
        })
    }

    /// The version as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Maven's canonical form (`1.0.0` → `1`, `1.0-ALPHA1` → `1-alpha-1`).
    pub fn canonical(&self) -> String {
        let mut s = String::new();
        write_list(&self.items, &mut s);
        s
    }
}

fn build(lists: &mut [Option<Vec<Node>>], id: usize) -> Vec<Item> {
    let nodes = lists.get_mut(id).and_then(Option::take).unwrap_or_default();
    nodes
        .into_iter()
        .map(|n| match n {
            Node::Int(d) => Item::Int(d),
            Node::Str(q) => Item::Str(q),
            Node::List(c) => Item::List(build(lists, c)),
        })
        .collect()
}

fn write_list(items: &[Item], out: &mut String) {
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push(if matches!(item, Item::List(_)) {
                '-'
            } else {
                '.'
            });
        }
        match item {
            Item::Int(d) => out.push_str(d),
            Item::Str(Qualifier::Known(r)) => out.push_str(
                ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"]
                    .get(usize::from(*r))
                    .copied()
                    .unwrap_or_default(),
            ),
            Item::Str(Qualifier::Unknown(s)) => out.push_str(s),
            Item::List(l) => write_list(l, out),
        }
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.items, &other.items)
    }
}

/// Parses and compares two version strings.
pub fn compare(a: &str, b: &str) -> Result<Ordering, ParseError> {
    Ok(MavenVersion::parse(a)?.cmp(&MavenVersion::parse(b)?))
}
