package dev.ferry.node.data;

/** An update's place in its portion's total order: the epoch, then n within the epoch. */
public record SequenceNumber(long epoch, long n) {}
