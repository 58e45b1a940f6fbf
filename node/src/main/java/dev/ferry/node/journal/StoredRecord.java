package dev.ferry.node.journal;

/** A record as recovered at open, with where it lies (to read its payload again later). */
public record StoredRecord(JournalRecord record, JournalLocation at) {}
