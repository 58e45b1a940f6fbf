/**
 * The data plane's decisions as plain state (issue 11): what a node numbers, when its acks may go,
 * which writes wait for an epoch to close. No threads, futures, RPC or files here, so that a
 * test or a simulation can step them exactly as the data thread does; the shell
 * ({@code dev.ferry.node.data.DataPlane}) owns one instance of each on its thread and carries out
 * what they decide. {@code ArchitectureTest} keeps this package pure.
 */
package dev.ferry.node.data.state;
