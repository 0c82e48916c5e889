//! An ordered, keyed collection of records as they sit in a file.

use std::collections::HashMap;
use std::hash::Hash;

use crate::model::{Group, GroupName, User, Username};

/// A record we understand, or one we keep verbatim because we cannot
/// (e.g. a username we refuse): it is written back untouched so that the
/// Python tools, which accept it, lose nothing.
#[derive(Debug, Clone)]
pub(super) enum Slot<V, O> {
    Known(V),
    Opaque(O),
}

pub(super) trait Keyed {
    type Key: Eq + Hash + Clone + std::fmt::Display;
    fn key(&self) -> &Self::Key;
}

impl Keyed for User {
    type Key = Username;
    fn key(&self) -> &Username {
        &self.username
    }
}

impl Keyed for Group {
    type Key = GroupName;
    fn key(&self) -> &GroupName {
        &self.name
    }
}

/// File order is kept (new records are appended) so that a rewrite changes
/// only what changed and diffs of users.json stay readable.
#[derive(Debug, Clone)]
pub(super) struct Table<V: Keyed, O> {
    slots: Vec<Slot<V, O>>,
    index: HashMap<V::Key, usize>,
}

impl<V: Keyed, O> Default for Table<V, O> {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<V: Keyed, O> Table<V, O> {
    pub(super) fn get(&self, key: &V::Key) -> Option<&V> {
        match self.slots.get(*self.index.get(key)?) {
            Some(Slot::Known(v)) => Some(v),
            _ => None,
        }
    }

    pub(super) fn contains(&self, key: &V::Key) -> bool {
        self.index.contains_key(key)
    }

    pub(super) fn known(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Known(v) => Some(v),
            Slot::Opaque(_) => None,
        })
    }

    pub(super) fn slots(&self) -> &[Slot<V, O>] {
        &self.slots
    }

    /// Appends `value`, or replaces the record with the same key in place and
    /// returns true (Python's dict loading: the last duplicate wins).
    pub(super) fn upsert(&mut self, value: V) -> bool {
        if let Some(&i) = self.index.get(value.key()) {
            self.slots[i] = Slot::Known(value);
            return true;
        }
        self.index.insert(value.key().clone(), self.slots.len());
        self.slots.push(Slot::Known(value));
        false
    }

    pub(super) fn push_opaque(&mut self, raw: O) {
        self.slots.push(Slot::Opaque(raw));
    }

    pub(super) fn remove(&mut self, key: &V::Key) -> Option<V> {
        let i = self.index.remove(key)?;
        let removed = self.slots.remove(i);
        // Every record after `i` moved down by one.
        for pos in self.index.values_mut() {
            if *pos > i {
                *pos -= 1;
            }
        }
        match removed {
            Slot::Known(v) => Some(v),
            Slot::Opaque(_) => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn user(name: &str) -> User {
        let name = Username::parse(name).unwrap();
        User::new(name, "", String::new(), [], Utc::now())
    }

    #[test]
    fn keeps_order_and_index_through_removals() {
        let mut t: Table<User, ()> = Table::default();
        for n in ["a", "b", "c", "d"] {
            assert!(!t.upsert(user(n)));
        }
        t.push_opaque(());
        assert!(t.remove(&user("b").username).is_some());
        assert!(t.upsert(user("c")));
        let names: Vec<_> = t.known().map(|u| u.username.to_string()).collect();
        assert_eq!(names, ["a", "c", "d"]);
        assert_eq!(
            t.get(&user("d").username).map(|u| u.username.as_str()),
            Some("d")
        );
        assert_eq!(t.slots().len(), 4);
        assert!(!t.contains(&user("b").username));
    }
}
