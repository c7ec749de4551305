//! Reads breakdown CSV files into the store, all-or-nothing per file.
