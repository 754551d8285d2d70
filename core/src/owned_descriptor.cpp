#include "steppar/owned_descriptor.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace steppar {

OwnedDescriptor::OwnedDescriptor(int fd) : fd_(fd) {
    struct stat st {};
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0) {
        device_ = st.st_dev;
        inode_ = st.st_ino;
    } else {
        fd_ = -1;
    }
}

bool OwnedDescriptor::names_same_file(int fd) const {
    struct stat st {};
    return fd_ >= 0 && fd >= 0 && ::fstat(fd, &st) == 0 && st.st_dev == device_ && st.st_ino == inode_;
}

bool OwnedDescriptor::intact() const { return names_same_file(fd_); }

int OwnedDescriptor::same_file_among(std::initializer_list<int> candidates) const {
    for (const int fd : candidates)
        if (names_same_file(fd)) return fd;
    return -1;
}

void OwnedDescriptor::close_if_intact() {
    if (intact()) ::close(fd_);
    fd_ = -1;
}

}  // namespace steppar
