//! A table row as a snapshot keeps it: the texts natop compares, packed
//! into one allocation.
//!
//! The cloud's answer holds each field of an entry as a string of its own
//! (and fields natop never reads: the table and gateway ids, the network
//! interface). A snapshot holds every entry of its table for as long as
//! natop runs: with 100 tables of 100 entries, the cloud's rows as they
//! were read took 430 bytes each (a DNAT row, a string a field). Packed, a
//! row is its texts end to end in one boxed `str` and where each ends: 132
//! bytes, and one allocation instead of one a field (`make bench`,
//! `cache_cost`).

/// `N` short texts in one allocation; field `i` is [`Packed::get`]`(i)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Packed<const N: usize> {
    /// The texts, end to end.
    text: Box<str>,
    /// Where each text ends in `text`.
    ends: [u32; N],
}

impl<const N: usize> Packed<N> {
    /// The texts `fields`, packed.
    pub fn new(fields: [&str; N]) -> Packed<N> {
        let mut text = String::with_capacity(fields.iter().map(|f| f.len()).sum());
        let mut ends = [0u32; N];
        for (end, field) in ends.iter_mut().zip(fields) {
            text.push_str(field);
            // A row is a few hundred bytes at most; saturate rather than wrap.
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        Packed {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// Field `i` (empty when `i` is not below `N`).
    pub fn get(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            None => 0,
            Some(before) => self.ends.get(before).copied().unwrap_or(u32::MAX),
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        let (start, end) = (start as usize, end as usize);
        self.text.get(start..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_comes_back_as_it_went_in() {
        for fields in [
            ["fwd-1", "47.1.2.3", "80", "", "Available"],
            ["", "", "", "", ""],
            ["a", "", "ü€", "8000/8010", "Pending"],
        ] {
            let packed = Packed::new(fields);
            for (i, field) in fields.iter().enumerate() {
                assert_eq!(packed.get(i), *field, "field {i} of {fields:?}");
            }
            assert_eq!(packed.get(fields.len()), "", "past the last field");
        }
    }

    #[test]
    fn rows_with_the_same_fields_are_equal_and_others_are_not() {
        assert!(Packed::new(["ab", "c"]) == Packed::new(["ab", "c"]));
        // The same text split elsewhere is another row.
        assert!(Packed::new(["ab", "c"]) != Packed::new(["a", "bc"]));
    }

    #[test]
    fn a_row_is_one_allocation_of_its_texts() {
        let packed = Packed::new(["fwd-0123456789abcdef0123", "47.100.17.1", "10000"]);
        assert_eq!(packed.text.len(), 24 + 11 + 5);
        assert_eq!(size_of::<Packed<8>>(), 16 + 8 * 4);
    }
}
