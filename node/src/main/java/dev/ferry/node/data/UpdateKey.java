package dev.ferry.node.data;

/** Identifies one write across retries: the primary and its own sequence number. */
public record UpdateKey(String primaryId, long clientSeq) {}
