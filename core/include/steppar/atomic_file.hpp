// Atomic file writes: every file steppar or a node writes goes to a temporary file in the same
// folder first and is renamed over its final name only when complete, so a process killed at
// any instant leaves either the old file or the new one, never half of one.
//
//   steppar::AtomicFile out("out/counts/a.json");
//   out.stream() << "{...}";
//   out.commit();            // without commit(), the destructor removes the temporary file
#pragma once

#include "steppar/stamp.hpp"

#include <filesystem>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

class AtomicFile {
public:
    explicit AtomicFile(std::string target);
    explicit AtomicFile(const std::filesystem::path& target) : AtomicFile(target.string()) {}
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile();

    const std::string& target() const noexcept { return target_; }
    std::ostream& stream() { return stream_; }
    /// Flushes, closes and renames the temporary file onto the target. Throws on any I/O error.
    void commit();
    /// The target's stamp as commit() left it (stamp.hpp).
    const FileStamp& stamp() const noexcept { return stamp_; }

    /// True for the names AtomicFile gives its temporary files (so listings can skip them).
    static bool is_temporary_name(std::string_view filename);

private:
    // Buffers the first 64 KiB in memory and creates the temporary file only when the buffer
    // fills or at commit: a small output costs one open, one write and one rename; an output
    // never written is created empty in place (an empty file cannot be half-written).
    class Buffer final : public std::streambuf {
    public:
        explicit Buffer(AtomicFile& owner) : owner_(owner) {}
        bool flush_to_file();
        std::size_t pending() const { return static_cast<std::size_t>(pptr() - pbase()); }

    protected:
        int_type overflow(int_type c) override;
        std::streamsize xsputn(const char* data, std::streamsize size) override;
        int sync() override { return flush_to_file() ? 0 : -1; }

    private:
        AtomicFile& owner_;
        static constexpr std::size_t capacity = 64 * 1024;
        std::unique_ptr<char[]> space_;  // not zero-filled: 64 KiB of memset per output adds up
    };

    bool open_temporary();
    bool create_empty_in_place();
    bool write_out(const char* data, std::size_t size);

    // Plain strings: an AtomicFile is made per partition and output, and a std::filesystem::path
    // would parse each name into components for nothing.
    std::string target_;
    std::string temporary_;
    Buffer buffer_{*this};
    std::ostream stream_{&buffer_};
    int fd_ = -1;
    int error_ = 0;  ///< first errno of a failed create or write
    bool committed_ = false;
    int cleanup_slot_ = -1;
    FileStamp stamp_;
};

/// Makes SIGINT, SIGTERM, SIGHUP and crash signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT)
/// remove the temporary files of every AtomicFile still open
/// in this process before the process dies of the signal: a slice stopped by its runner leaves
/// no partial file behind. (SIGKILL cannot be caught: remove_stale_temporaries() covers it.)
void remove_temporaries_on_termination_signals();

/// In a step's process: `output_copy` is a descriptor of the step's output pipe (not 1 or 2). When
/// a node has closed its stdout or stderr, outputs opened afterwards never take descriptor 1 or
/// 2, and the pipe is put back there, so nothing printed lands in an output file.
void keep_standard_streams(int output_copy);

/// Removes `path`, a temporary file (by its name), when its writer process no longer exists;
/// true when it did.
bool remove_if_stale_temporary(const std::string& path);

/// Removes temporary files under `dir` (recursively) whose writer process no longer exists.
/// With `only_for`, looks only in `dir` itself and only for temporaries of that file name.
/// Returns how many were removed.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir, std::string_view only_for = {});

/// Writes `content` to `target` atomically. With `durable`, the data is fsynced before the
/// rename and the folder after it, so the file survives a power cut too.
void write_file_atomically(const std::filesystem::path& target, std::string_view content, bool durable = false);

/// Removes the file `path`, then each folder the removal left empty, up to (not including) `root`:
/// a retracted partition leaves no empty folder that a clean run would not have made.
void remove_file_and_empty_folders(const std::string& path, const std::filesystem::path& root);

/// Reads a whole file; throws StateError naming the file when it cannot.
std::string read_file(const std::filesystem::path& path);

/// Flushes every file written so far on the filesystem holding `path` to stable storage (one
/// syncfs per slice instead of one fsync per partition).
void sync_filesystem(const std::filesystem::path& path);

}  // namespace steppar
