//! The in-memory flag set: a slab of flags plus two hash tables that store only slot
//! numbers (no second copy of any string), one by id and one by (field, value). Matching
//! a lead is one lookup per lead field, never a scan.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};
use serde_json::{Map, Value};

use super::flag::{canonical_field, normalize_value, value_string, Flag, PHONE};

#[derive(Default)]
pub struct FlagIndex {
    slots: Vec<Option<Flag>>,
    free: Vec<u32>,
    by_id: HashTable<u32>,
    by_value: HashTable<u32>,
    /// Interned field names and how many flags use each.
    fields: HashMap<Arc<str>, usize>,
    /// Interned reasons and `added_by` names.
    texts: hashbrown::HashSet<Arc<str>>,
    hasher: DefaultHashBuilder,
    len: usize,
    next_seq: u64,
    pub enabled: bool,
}

/// A lead field that matched a live flag.
#[derive(Debug, Clone)]
pub struct LeadMatch {
    pub flag: Flag,
    /// The lead's field name as sent (e.g. `phone_number`).
    pub lead_field: String,
    /// The normalised value that matched.
    pub value: String,
}

impl FlagIndex {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn flag(&self, slot: u32) -> Option<&Flag> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn id_hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    fn value_hash(&self, field: &str, value: &str) -> u64 {
        self.hasher.hash_one((field, value))
    }

    /// The interned `Arc` for a field name, so a million phone flags share one string.
    fn intern(&mut self, field: &Arc<str>) -> Arc<str> {
        match self.fields.get_key_value(field) {
            Some((k, _)) => k.clone(),
            None => field.clone(),
        }
    }

    fn share(&mut self, text: &mut Option<Arc<str>>) {
        if let Some(t) = text {
            match self.texts.get(&**t) {
                Some(existing) => *t = existing.clone(),
                None => {
                    self.texts.insert(t.clone());
                }
            }
        }
    }

    /// Called for a flag leaving the index: drops the pooled string if no other flag uses it.
    fn unshare(&mut self, text: &Option<Arc<str>>) {
        if let Some(t) = text {
            // The pool and the departing flag are the only holders.
            if Arc::strong_count(t) == 2 {
                self.texts.remove(&**t);
            }
        }
    }

    /// Releases the spare capacity left by growth (after a bulk load).
    pub fn shrink(&mut self) {
        self.slots.shrink_to_fit();
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_id.shrink_to_fit(|s| {
            slots[*s as usize]
                .as_ref()
                .map_or(0, |f| hasher.hash_one(f.id()))
        });
        self.by_value.shrink_to_fit(|s| {
            slots[*s as usize]
                .as_ref()
                .map_or(0, |f| hasher.hash_one((&*f.field, f.value())))
        });
        self.texts.shrink_to_fit();
    }

    /// Inserts a flag. The caller has checked that its id is not taken.
    pub fn insert(&mut self, mut flag: Flag) {
        flag.field = self.intern(&flag.field);
        self.share(&mut flag.reason);
        self.share(&mut flag.added_by);
        if flag.seq == 0 {
            self.next_seq += 1;
            flag.seq = self.next_seq;
        } else {
            self.next_seq = self.next_seq.max(flag.seq);
        }
        *self.fields.entry(flag.field.clone()).or_insert(0) += 1;
        let id_hash = self.id_hash(flag.id());
        let value_hash = self.value_hash(&flag.field, flag.value());
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(flag);
                slot
            }
            None => {
                self.slots.push(Some(flag));
                (self.slots.len() - 1) as u32
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        let rehash_id = |s: &u32| {
            slots[*s as usize]
                .as_ref()
                .map_or(0, |f| hasher.hash_one(f.id()))
        };
        self.by_id.insert_unique(id_hash, slot, rehash_id);
        let rehash_value = |s: &u32| {
            slots[*s as usize]
                .as_ref()
                .map_or(0, |f| hasher.hash_one((&*f.field, f.value())))
        };
        self.by_value.insert_unique(value_hash, slot, rehash_value);
        self.len += 1;
    }

    fn slot_of(&self, id: &str) -> Option<u32> {
        let slots = &self.slots;
        self.by_id
            .find(self.id_hash(id), |s| {
                slots[*s as usize].as_ref().is_some_and(|f| f.id() == id)
            })
            .copied()
    }

    pub fn get(&self, id: &str) -> Option<&Flag> {
        self.slot_of(id).and_then(|s| self.flag(s))
    }

    pub fn contains_id(&self, id: &str) -> bool {
        self.slot_of(id).is_some()
    }

    /// Removes and returns the flag with this id.
    pub fn remove(&mut self, id: &str) -> Option<Flag> {
        let slot = self.slot_of(id)?;
        let flag = self.slots[slot as usize].take()?;
        if let Ok(entry) = self.by_id.find_entry(self.id_hash(id), |s| *s == slot) {
            entry.remove();
        }
        let value_hash = self.value_hash(&flag.field, flag.value());
        if let Ok(entry) = self.by_value.find_entry(value_hash, |s| *s == slot) {
            entry.remove();
        }
        if let Some(count) = self.fields.get_mut(&flag.field) {
            *count -= 1;
            if *count == 0 {
                self.fields.remove(&flag.field);
            }
        }
        self.free.push(slot);
        self.len -= 1;
        self.unshare(&flag.reason);
        self.unshare(&flag.added_by);
        Some(flag)
    }

    /// Every flag (live or not) with this canonical field and normalised value.
    pub fn with_value<'a>(
        &'a self,
        field: &'a str,
        value: &'a str,
    ) -> impl Iterator<Item = &'a Flag> + 'a {
        self.by_value
            .iter_hash(self.value_hash(field, value))
            .filter_map(|s| self.flag(*s))
            .filter(move |f| &*f.field == field && f.value() == value)
    }

    /// The first live flag with this field and value (oldest first when there are several).
    pub fn live_with_value(&self, field: &str, value: &str, now_ms: i64) -> Option<&Flag> {
        let mut best: Option<&Flag> = None;
        for slot in self.by_value.iter_hash(self.value_hash(field, value)) {
            let Some(f) = self.flag(*slot) else { continue };
            if &*f.field != field || f.value() != value || !f.is_live(now_ms) {
                continue;
            }
            if best.is_none_or(|b| f.age_key() < b.age_key()) {
                best = Some(f);
            }
        }
        best
    }

    pub fn has_field(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Flag> {
        self.slots.iter().filter_map(Option::as_ref)
    }

    /// Flags in file order: oldest first, ties by id.
    pub fn sorted(&self) -> Vec<&Flag> {
        let mut all: Vec<&Flag> = self.iter().collect();
        all.sort_unstable_by_key(|f| f.age_key());
        all
    }

    /// The first live flag matching any field of `lead`, phone fields first. Returns
    /// `None` when the blocklist is disabled.
    pub fn match_lead(
        &self,
        lead: &Map<String, Value>,
        country: &str,
        now_ms: i64,
    ) -> Option<LeadMatch> {
        if !self.enabled || self.len == 0 {
            return None;
        }
        let phone_first = lead
            .iter()
            .filter(|(k, _)| canonical_field(k) == PHONE)
            .chain(lead.iter().filter(|(k, _)| canonical_field(k) != PHONE));
        for (key, raw) in phone_first {
            let field = canonical_field(key);
            if !self.has_field(field) {
                continue;
            }
            let Some(text) = value_string(raw) else {
                continue;
            };
            let Ok(value) = normalize_value(field, &text, country) else {
                continue;
            };
            if let Some(flag) = self.live_with_value(field, &value, now_ms) {
                return Some(LeadMatch {
                    flag: flag.clone(),
                    lead_field: key.clone(),
                    value,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flag(id: &str, field: &str, value: &str, expires_at: Option<i64>) -> Flag {
        let mut flag = Flag::new(id, Arc::from(field), value, 0);
        flag.expires_at = expires_at;
        flag
    }

    fn lead(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn insert_get_remove_round_trip_and_slot_reuse() {
        let mut idx = FlagIndex::new(true);
        idx.insert(flag("a", "phone", "+13055551234", None));
        idx.insert(flag("b", "lead_id", "12345", None));
        assert_eq!(idx.len(), 2);
        assert_eq!(
            idx.remove("a").map(|f| f.id().to_string()),
            Some("a".into())
        );
        assert!(idx.get("a").is_none());
        assert!(!idx.has_field("phone"));
        idx.insert(flag("c", "phone", "+13055550000", None));
        assert_eq!(idx.get("c").map(|f| f.value()), Some("+13055550000"));
        assert_eq!(idx.with_value("lead_id", "12345").count(), 1);
    }

    #[test]
    fn matches_phone_in_any_spelling_and_numbers_as_strings() {
        let mut idx = FlagIndex::new(true);
        idx.insert(flag("p", "phone", "+13055551234", None));
        idx.insert(flag("l", "lead_id", "12345", None));
        let m = idx
            .match_lead(&lead(json!({"phone_number": "305.555.1234"})), "US", 0)
            .expect("match");
        assert_eq!(m.flag.id(), "p");
        assert_eq!(m.lead_field, "phone_number");
        let m = idx
            .match_lead(&lead(json!({"lead_id": 12345})), "US", 0)
            .expect("match");
        assert_eq!(m.flag.id(), "l");
        assert!(idx
            .match_lead(&lead(json!({"lead_id": "123456"})), "US", 0)
            .is_none());
    }

    #[test]
    fn expired_flags_and_a_disabled_list_never_match() {
        let mut idx = FlagIndex::new(true);
        idx.insert(flag("x", "state", "FL", Some(1_000)));
        let fl = lead(json!({"state": "FL"}));
        assert!(idx.match_lead(&fl, "US", 999).is_some());
        assert!(idx.match_lead(&fl, "US", 1_000).is_none());
        idx.enabled = false;
        assert!(idx.match_lead(&fl, "US", 0).is_none());
    }
}
