//! An exact set of North American numbers for the do-not-call lists: the national
//! registry's ~2.5·10^8 numbers in well under a byte each, looked up in well under a
//! microsecond, with no false positives or negatives (not a probabilistic filter).
//!
//! A number is its ten national digits as an integer (`NPA NXX XXXX`), held in a Roaring
//! bitmap: registry numbers cluster in the assigned area code + exchange blocks, so most
//! 65,536-number containers are dense bitmaps (one bit per possible number) and the sparse
//! ones are sorted 16-bit arrays. Internal and custom lists may also block whole area codes
//! (`305*`) or area codes with an exchange (`305555*`), the way dialers do.

use std::collections::BTreeSet;
use std::io;

use roaring::RoaringTreemap;

/// The ten national digits of a NANP number (`+1` and a valid area code), as an integer.
pub fn national(e164: &str) -> Option<u64> {
    let digits = e164.strip_prefix("+1")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Area codes and exchanges never start with 0 or 1.
    if matches!(digits.as_bytes()[0], b'0' | b'1') {
        return None;
    }
    digits.parse().ok()
}

/// What matched a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Number,
    /// An area code (3 digits) or area code + exchange (6 digits) prefix.
    Prefix(u32),
}

/// The numbers and prefixes of one list version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumberSet {
    numbers: RoaringTreemap,
    /// Area codes (100–999) and area code + exchange blocks (100000–999999).
    prefixes: BTreeSet<u32>,
}

impl NumberSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, national: u64) -> bool {
        self.numbers.insert(national)
    }

    pub fn remove(&mut self, national: u64) -> bool {
        self.numbers.remove(national)
    }

    /// Adds `305` (an area code) or `305555` (an area code and exchange).
    pub fn insert_prefix(&mut self, prefix: u32) {
        self.prefixes.insert(prefix);
    }

    pub fn remove_prefix(&mut self, prefix: u32) -> bool {
        self.prefixes.remove(&prefix)
    }

    /// Whether the set holds `national` (ten digits), by number or by prefix.
    pub fn lookup(&self, national: u64) -> Option<Match> {
        if self.numbers.contains(national) {
            return Some(Match::Number);
        }
        if self.prefixes.is_empty() {
            return None;
        }
        let exchange = (national / 10_000) as u32;
        let area = exchange / 1_000;
        [exchange, area]
            .into_iter()
            .find(|p| self.prefixes.contains(p))
            .map(Match::Prefix)
    }

    pub fn len(&self) -> u64 {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty() && self.prefixes.is_empty()
    }

    pub fn prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// Bytes the numbers take in memory, about (the serialized size is the same layout).
    pub fn size_bytes(&self) -> u64 {
        self.numbers.serialized_size() as u64 + self.prefixes.len() as u64 * 4
    }

    /// Writes the set (a snapshot): the prefixes, then the Roaring serialization.
    pub fn write_to(&self, mut out: impl io::Write) -> io::Result<()> {
        out.write_all(&(self.prefixes.len() as u64).to_le_bytes())?;
        for p in &self.prefixes {
            out.write_all(&p.to_le_bytes())?;
        }
        self.numbers.serialize_into(out)
    }

    /// Reads what [`NumberSet::write_to`] wrote.
    pub fn read_from(mut input: impl io::Read) -> io::Result<Self> {
        let mut word = [0u8; 8];
        input.read_exact(&mut word)?;
        let count = u64::from_le_bytes(word);
        if count > 1_000_000 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a list snapshot with more than a million prefixes is not one of ours",
            ));
        }
        let mut prefixes = BTreeSet::new();
        for _ in 0..count {
            let mut p = [0u8; 4];
            input.read_exact(&mut p)?;
            prefixes.insert(u32::from_le_bytes(p));
        }
        let numbers = RoaringTreemap::deserialize_from(input)?;
        Ok(Self { numbers, prefixes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_prefixes_match_exactly() {
        let mut set = NumberSet::new();
        assert!(set.insert(3055551234));
        assert!(!set.insert(3055551234));
        set.insert_prefix(212);
        set.insert_prefix(404555);
        assert_eq!(set.lookup(3055551234), Some(Match::Number));
        assert_eq!(set.lookup(3055551235), None);
        assert_eq!(set.lookup(2125550000), Some(Match::Prefix(212)));
        assert_eq!(set.lookup(4045559999), Some(Match::Prefix(404555)));
        assert_eq!(set.lookup(4045569999), None);
        assert!(set.remove(3055551234));
        assert_eq!(set.lookup(3055551234), None);
        assert_eq!(set.len(), 0);
        assert_eq!(set.prefixes(), 2);
    }

    #[test]
    fn national_takes_only_nanp_numbers() {
        assert_eq!(national("+13055551234"), Some(3055551234));
        assert_eq!(national("+442079460958"), None);
        assert_eq!(national("+1305555123"), None);
        assert_eq!(national("+11055551234"), None);
    }

    #[test]
    fn a_snapshot_reads_back_equal_and_a_foreign_file_is_refused() {
        let mut set = NumberSet::new();
        for n in 0..50_000u64 {
            set.insert(2_012_000_000 + n * 7);
        }
        set.insert_prefix(305);
        let mut bytes = Vec::new();
        set.write_to(&mut bytes).expect("write");
        let back = NumberSet::read_from(bytes.as_slice()).expect("read");
        assert_eq!(back, set);
        assert!(NumberSet::read_from(&b"\xff\xff\xff\xff\xff\xff\xff\xff"[..]).is_err());
        assert!(NumberSet::read_from(&bytes[..bytes.len() / 2]).is_err());
    }
}
