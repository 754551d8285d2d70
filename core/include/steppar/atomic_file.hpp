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
    /// How far commit() goes: `durable` also fsyncs the data before the rename and the folder
    /// after it, so the file survives a power cut (markers, plans); `none` is for outputs, which
    /// a slice syncs once per filesystem (sync_filesystem) before its marker.
    enum class Durability { none, durable };
    /// Flushes, closes and renames the temporary file onto the target. Throws StateError on any
    /// I/O error (and the destructor removes the temporary).
    void commit(Durability durability = Durability::none);
    /// The target's stamp as commit() left it (stamp.hpp).
    const FileStamp& stamp() const noexcept { return stamp_; }
    /// The temporary file's descriptor, created now if need be, with what the stream buffered
    /// written out first: for a writer that copies in bulk between stream writes
    /// (copy_file_range, which leaves the bytes in the kernel). -1 when the file cannot be
    /// created or written (commit() then says why).
    int descriptor();


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
    bool create_empty_in_place(bool durable);
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

/// In a step's process: `output_copy` is a descriptor of the step's output pipe (not 1 or 2). When
/// a node has closed its stdout or stderr, outputs opened afterwards never take descriptor 1 or
/// 2, and the pipe is put back there, so nothing printed lands in an output file.
void keep_standard_streams(int output_copy);

/// Writes `content` to `target` atomically (an AtomicFile committed with `durability`).
void write_file_atomically(const std::filesystem::path& target, std::string_view content,
                           AtomicFile::Durability durability = AtomicFile::Durability::none);

}  // namespace steppar
