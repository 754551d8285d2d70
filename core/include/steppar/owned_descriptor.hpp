// A descriptor steppar keeps open while a node's code runs in the same process: the event
// channel of a forked step, a ledger segment. A node may close every descriptor from 3 up (as
// daemon-style helpers do) and then open files of its own, which get the same numbers: steppar
// must then neither lose its error message nor write its lines into the node's file. So each
// such descriptor remembers which file it named and is checked before steppar writes to it.
#pragma once

#include <initializer_list>
#include <sys/types.h>

namespace steppar {

class OwnedDescriptor {
public:
    OwnedDescriptor() = default;
    /// Takes `fd` (may be -1: nothing owned) and remembers the file it names now.
    explicit OwnedDescriptor(int fd);

    int fd() const { return fd_; }
    /// Whether the descriptor is still open on the same file.
    bool intact() const;
    /// Whether `fd` is open on the file this descriptor named (a dup of it, say).
    bool names_same_file(int fd) const;
    /// The first of `candidates` open on the same file, or -1.
    int same_file_among(std::initializer_list<int> candidates) const;
    /// Closes the descriptor if it is still ours (never a number the node reused).
    void close_if_intact();

private:
    int fd_ = -1;
    dev_t device_ = 0;
    ino_t inode_ = 0;
};

}  // namespace steppar
