package dev.ferry.node.data;

import dev.ferry.node.data.state.Numbered;
import dev.ferry.node.journal.JournalLocation;
import java.util.concurrent.CompletableFuture;

/**
 * An update this node numbered as owner, as the transfer to the secondary needs it: its number
 * in the portion's epoch, where it lands in the volume, its primary's CRC32C, and where its
 * payload is in the journal (completes once the record is written). Immutable.
 */
record NumberedUpdate(UpdateKey key, long n, long offset, int length, int crc32c,
    CompletableFuture<JournalLocation> where) implements Numbered {}
