package dev.ferry.node.journal;

import java.nio.file.Path;

/**
 * Where one record lies in the journal: its segment file, the byte offset of its start and its
 * whole size (header included), for {@link Journal#read}. Valid until the segment is released.
 */
public record JournalLocation(Path segment, long position, int size) {}
