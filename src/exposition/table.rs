//! [`BlockTable`]: the linter's per-family hash tables (series identities,
//! histogram state), keyed by hashes that are already well mixed.
//!
//! Memory is what bounds `lint-metrics`, so these tables are built for it:
//! - **Fixed-size blocks, split one at a time** (extendible hashing): a
//!   table grows by one block, never by doubling into a fresh copy, so a
//!   growing family never holds an old and a new table at once, and every
//!   block freed or kept is the size the next one needs. (Doubling tables
//!   left the allocator holding the freed smaller copies: 200 MB of two
//!   families peaked at 86-97 MB.)
//! - **No overshoot**: a family of 1.7 million series takes the 512 blocks
//!   it fills to 81 % of their slots (93 % of what a block holds before it
//!   splits), not a table sized for the cap.
//! - **Clearing costs what the family used**: a family of a few series
//!   clears the slots it touched, not the blocks a large earlier family
//!   left allocated. (Zeroing the whole capacity at every family end made
//!   20 MB of one-sample families take 23 s.)

/// Where a key's blocks are found: the directory is indexed by the key's top
/// bits, a block's slot by its low bits, so the two never correlate.
fn dir_index(key: u64, depth: u32) -> usize {
    match depth {
        0 => 0,
        d => usize::try_from(key >> (64 - d)).unwrap_or(0),
    }
}

/// How many touched slots a table remembers for a cheap [`BlockTable::clear`];
/// past this it zeroes its blocks instead.
const TOUCHED: usize = 256;

/// A block's slots: key zero marks a free one.
type Slots<V> = Box<[(u64, V)]>;

struct Block<V> {
    slots: Slots<V>,
    len: usize,
    /// How many top key bits all of this block's keys share.
    depth: u32,
}

/// What [`BlockTable::entry`] found.
pub(super) enum Entry<'a, V> {
    /// The key was there.
    Found(&'a mut V),
    /// The key was not there and was inserted with the given value.
    New(&'a mut V),
    /// The key was not there, and the table is at its cap.
    Full,
}

/// A hash set or map (`V = ()` is a set of bare keys, eight bytes a slot)
/// over keyed hashes, at most `max_blocks` blocks of `block_slots` slots and
/// `max_len` keys. Open addressing with linear probing inside a block, each
/// kept at most 7/8 full.
pub(super) struct BlockTable<V> {
    blocks: Vec<Block<V>>,
    /// Zeroed blocks kept from a larger family for the next one.
    free: Vec<Slots<V>>,
    /// Block of each value of a key's top `depth` bits.
    dir: Vec<u32>,
    depth: u32,
    len: usize,
    block_slots: usize,
    max_blocks: usize,
    max_len: usize,
    /// Slots filled since the last clear, while there are few and no block
    /// has split (so they are all in block 0).
    touched: Vec<u32>,
    overflowed: bool,
}

impl<V: Copy + Default> BlockTable<V> {
    /// `block_slots` is rounded up to a power of two.
    pub(super) fn new(block_slots: usize, max_blocks: usize, max_len: usize) -> Self {
        BlockTable {
            blocks: Vec::new(),
            free: Vec::new(),
            dir: vec![0],
            depth: 0,
            len: 0,
            block_slots: block_slots.next_power_of_two().max(8),
            max_blocks: max_blocks.max(1),
            max_len,
            touched: Vec::new(),
            overflowed: false,
        }
    }

    /// Keys held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated, in use or kept free: what the table costs.
    #[cfg(test)]
    pub(super) fn slots(&self) -> usize {
        (self.blocks.len() + self.free.len()) * self.block_slots
    }

    /// The directory can address this many times more blocks than the cap
    /// before a split is refused: room for uneven keys, and a bound on it.
    fn max_depth(&self) -> u32 {
        self.max_blocks.next_power_of_two().trailing_zeros() + 4
    }

    fn fresh(&mut self) -> Slots<V> {
        self.free
            .pop()
            .unwrap_or_else(|| vec![(0, V::default()); self.block_slots].into_boxed_slice())
    }

    /// The slot of `key` in block `at`, and whether it holds the key (else it
    /// is the free slot where it would go).
    fn find(&self, at: usize, key: u64) -> Option<(usize, bool)> {
        let slots = &self.blocks.get(at)?.slots;
        let start = usize::try_from(key).unwrap_or(usize::MAX) & (slots.len() - 1);
        // A block is never full, so a free slot ends every probe; the scan
        // wraps around the block's end at most once.
        let ends = |(k, _): &(u64, V)| *k == key || *k == 0;
        let (after, before) = (slots.get(start..)?, slots.get(..start)?);
        let i = match after.iter().position(ends) {
            Some(p) => start + p,
            None => before.iter().position(ends)?,
        };
        Some((i, slots.get(i)?.0 == key))
    }

    /// The value of `key`, inserting `value()` when new and there is room.
    pub(super) fn entry(&mut self, key: u64, value: impl FnOnce() -> V) -> Entry<'_, V> {
        // Zero marks a free slot; one more collision in 2^64 is harmless.
        let key = key.max(1);
        if self.blocks.is_empty() {
            let slots = self.fresh();
            self.blocks.push(Block {
                slots,
                len: 0,
                depth: 0,
            });
        }
        let (at, slot) = loop {
            let at = self.dir.get(dir_index(key, self.depth)).map_or(0, |&b| b as usize);
            let Some((slot, found)) = self.find(at, key) else {
                return Entry::Full;
            };
            if found {
                return match self.blocks.get_mut(at).and_then(|b| b.slots.get_mut(slot)) {
                    Some((_, v)) => Entry::Found(v),
                    None => Entry::Full,
                };
            }
            if self.len >= self.max_len {
                return Entry::Full;
            }
            let fits = self
                .blocks
                .get(at)
                .is_some_and(|b| (b.len + 1) * 8 <= self.block_slots * 7);
            if fits {
                break (at, slot);
            }
            if !self.split(at) {
                return Entry::Full;
            }
        };
        self.len += 1;
        if !self.overflowed {
            match u32::try_from(slot) {
                Ok(s) if at == 0 && self.touched.len() < TOUCHED => self.touched.push(s),
                _ => self.overflowed = true,
            }
        }
        let Some(block) = self.blocks.get_mut(at) else {
            return Entry::Full;
        };
        block.len += 1;
        match block.slots.get_mut(slot) {
            Some(entry) => {
                *entry = (key, value());
                Entry::New(&mut entry.1)
            }
            None => Entry::Full,
        }
    }

    /// Splits block `at` in two by the next key bit; false at the cap.
    fn split(&mut self, at: usize) -> bool {
        let Some(depth) = self.blocks.get(at).map(|b| b.depth) else {
            return false;
        };
        if self.blocks.len() >= self.max_blocks || depth >= self.max_depth() {
            return false;
        }
        let Ok(new) = u32::try_from(self.blocks.len()) else {
            return false;
        };
        if depth == self.depth {
            self.dir = self.dir.iter().flat_map(|&b| [b, b]).collect();
            self.depth += 1;
        }
        // Directory entries whose index has this bit set now go to the new
        // block: the bit just below the `depth` bits the block's keys share.
        let bit = 1usize << (self.depth - 1 - depth);
        for (i, b) in self.dir.iter_mut().enumerate() {
            if *b as usize == at && i & bit != 0 {
                *b = new;
            }
        }
        let high = self.fresh();
        let low = self.fresh();
        let Some(block) = self.blocks.get_mut(at) else {
            return false;
        };
        let mut old = std::mem::replace(&mut block.slots, low);
        block.len = 0;
        block.depth = depth + 1;
        self.blocks.push(Block {
            slots: high,
            len: 0,
            depth: depth + 1,
        });
        let key_bit = 63 - depth;
        for entry in old.iter_mut().filter(|(k, _)| *k != 0) {
            let to = if (entry.0 >> key_bit) & 1 == 1 {
                new as usize
            } else {
                at
            };
            self.place(to, *entry);
            *entry = (0, V::default());
        }
        self.free.push(old);
        // Slots have moved: only a full clear is right from now on.
        self.overflowed = true;
        true
    }

    /// Puts a key known to be absent into block `at` (which has room).
    fn place(&mut self, at: usize, entry: (u64, V)) {
        if let Some((slot, _)) = self.find(at, entry.0)
            && let Some(block) = self.blocks.get_mut(at)
            && let Some(free) = block.slots.get_mut(slot)
        {
            *free = entry;
            block.len += 1;
        }
    }

    /// Calls `f` with every value.
    pub(super) fn for_each_value(&self, mut f: impl FnMut(&V)) {
        if self.overflowed {
            for block in &self.blocks {
                block.slots.iter().filter(|(k, _)| *k != 0).for_each(|(_, v)| f(v));
            }
        } else if let Some(block) = self.blocks.first() {
            for &s in &self.touched {
                if let Some((_, v)) = block.slots.get(s as usize) {
                    f(v);
                }
            }
        }
    }

    /// Empties the table, keeping its blocks (zeroed) for the next family.
    pub(super) fn clear(&mut self) {
        if self.overflowed {
            for block in &mut self.blocks {
                if block.len > 0 {
                    block.slots.fill((0, V::default()));
                }
            }
        } else if let Some(block) = self.blocks.first_mut() {
            for &s in &self.touched {
                if let Some(slot) = block.slots.get_mut(s as usize) {
                    *slot = (0, V::default());
                }
            }
        }
        // Back to one block and an empty directory; the rest wait in `free`.
        // In place: this runs at every family's end, so it allocates nothing.
        // (A table never inserted into has no block at all.)
        if self.blocks.len() > 1 {
            self.free.extend(self.blocks.drain(1..).map(|b| b.slots));
        }
        if let Some(first) = self.blocks.first_mut() {
            first.len = 0;
            first.depth = 0;
        }
        self.dir.clear();
        self.dir.push(0);
        self.depth = 0;
        self.len = 0;
        self.touched.clear();
        self.overflowed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::{BlockTable, Entry};

    /// Spread like keyed hashes (zero included, which shares a slot with one).
    fn key(i: u64) -> u64 {
        let mut h = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }

    fn insert(t: &mut BlockTable<u32>, k: u64, v: u32) -> &'static str {
        match t.entry(k, || v) {
            Entry::Found(_) => "found",
            Entry::New(_) => "new",
            Entry::Full => "full",
        }
    }

    #[test]
    fn keys_are_found_across_splits_with_their_values() {
        let mut t = BlockTable::<u32>::new(64, 1 << 10, usize::MAX);
        for i in 0..20_000u32 {
            assert_eq!(insert(&mut t, key(u64::from(i)), i), "new", "{i}");
        }
        assert_eq!(t.len(), 20_000);
        for i in (0..20_000u32).rev() {
            match t.entry(key(u64::from(i)), || u32::MAX) {
                Entry::Found(v) => assert_eq!(*v, i),
                _ => panic!("{i} lost"),
            }
        }
        let mut sum = 0u64;
        t.for_each_value(|&v| sum += u64::from(v));
        assert_eq!(sum, (0..20_000u64).sum::<u64>());
        // Grown a block at a time: never more than twice what 7/8 needs.
        assert!(t.slots() * 7 <= 20_000 * 8 * 2 + 64 * 8, "{} slots", t.slots());
    }

    #[test]
    fn the_caps_hold_and_what_is_held_is_still_found() {
        let mut t = BlockTable::<u32>::new(64, 4, usize::MAX);
        let mut held = Vec::new();
        for i in 0..10_000 {
            if insert(&mut t, key(i), 1) == "new" {
                held.push(i);
            }
        }
        assert!(t.slots() <= 5 * 64, "{} slots", t.slots());
        assert!(held.len() >= 4 * 40 && held.len() <= 4 * 56, "{}", held.len());
        assert!(held.iter().all(|&i| insert(&mut t, key(i), 2) == "found"));
        let mut by_len = BlockTable::<u32>::new(64, 1 << 10, 100);
        let news = (0..1000).filter(|&i| insert(&mut by_len, key(i), 1) == "new").count();
        assert_eq!(news, 100);
        assert_eq!(insert(&mut by_len, key(5), 1), "found");
    }

    #[test]
    fn clearing_forgets_every_key_small_or_large() {
        let mut t = BlockTable::<u32>::new(64, 1 << 10, usize::MAX);
        for n in [3u64, 5_000, 7, 1] {
            for i in 0..n {
                assert_eq!(insert(&mut t, key(i), 1), "new", "{n}: {i}");
            }
            let mut count = 0;
            t.for_each_value(|_| count += 1);
            assert_eq!(count, n);
            t.clear();
            assert_eq!(t.len(), 0);
            let mut left = 0;
            t.for_each_value(|_| left += 1);
            assert_eq!(left, 0);
        }
        // The blocks of the large family are kept, not allocated again.
        let kept = t.slots();
        for i in 0..5_000 {
            insert(&mut t, key(i), 1);
        }
        assert_eq!(t.slots(), kept);
    }

    #[test]
    fn a_set_of_bare_keys_costs_eight_bytes_a_slot() {
        assert_eq!(size_of::<(u64, ())>(), 8);
    }
}
