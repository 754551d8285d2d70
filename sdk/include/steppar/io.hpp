// Reading and writing partitions without hand-made parsing: lines, delimited records and chunks
// read lazily through one buffer (a partition larger than memory streams), and adapters that turn
// a plain text function into a partition node. Header-only and compiled into the plugin, so it
// adds nothing to the plugin boundary.
//
//   for (std::string_view line : steppar::io::lines(ctx.input())) ...
//   for (std::string_view chunk : steppar::io::chunks(ctx.input(), 1 << 20)) ...
//   void upper(steppar::PartitionContext& ctx) {
//       steppar::io::map_lines(ctx, [](std::string_view line) { return to_upper(line); });
//   }
#pragma once

#include <steppar/sdk.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace steppar::io {

/// The pieces of one input file, read through a fixed buffer: records ending in a delimiter
/// (lines for a newline delimiter), or chunks of a fixed size. Iterate it once, with a range-for; each piece is
/// a view valid until the next one is read.
class Pieces {
public:
    /// Records of `path` that end in `delimiter` (the last one may lack it); `chunk_size` above 0
    /// reads chunks of that many bytes instead. `strip_cr`: a carriage return before a newline delimiter goes too.
    Pieces(std::string path, char delimiter, std::size_t chunk_size = 0, bool strip_cr = true)
        : path_(std::move(path)), delimiter_(delimiter), chunk_(chunk_size), strip_cr_(strip_cr) {}

    /// Walks the pieces; reaching the end compares equal to end().
    class iterator {
    public:
        /// Input iterator over string views.
        using iterator_category = std::input_iterator_tag;
        /// A piece.
        using value_type = std::string_view;
        /// Distance between two (never used: single pass).
        using difference_type = std::ptrdiff_t;
        /// What the iterator points at.
        using pointer = const std::string_view*;
        /// The piece itself.
        using reference = const std::string_view&;

        /// The end of every walk.
        iterator() = default;
        /// The current piece.
        reference operator*() const { return piece_; }
        /// The current piece's members.
        pointer operator->() const { return &piece_; }
        /// Reads the next piece.
        iterator& operator++() {
            next();
            return *this;
        }
        /// Equal when both are at the end.
        bool operator==(const iterator& other) const { return owner_ == other.owner_; }
        /// Not equal unless both are at the end.
        bool operator!=(const iterator& other) const { return !(*this == other); }

    private:
        friend class Pieces;
        explicit iterator(Pieces* owner) : owner_(owner) { next(); }
        void next() {
            if (!owner_ || !owner_->read(piece_)) owner_ = nullptr;
        }
        Pieces* owner_ = nullptr;
        std::string_view piece_;
    };

    /// Opens the file and reads the first piece. Throws std::runtime_error naming the file and
    /// the reason when it cannot be opened.
    iterator begin() {
        errno = 0;
        in_ = std::make_unique<std::ifstream>(path_, std::ios::binary);
        if (!*in_) throw std::runtime_error("cannot open input file '" + path_ + "': " + std::strerror(errno ? errno : ENOENT));
        return iterator(this);
    }
    /// Past the last piece.
    iterator end() { return iterator(); }

private:
    bool read(std::string_view& piece) {
        if (chunk_ > 0) return read_chunk(piece);
        if (!std::getline(*in_, buffer_, delimiter_)) {
            check();
            return false;
        }
        std::size_t size = buffer_.size();
        if (strip_cr_ && delimiter_ == '\n' && size > 0 && buffer_[size - 1] == '\r') --size;
        piece = std::string_view(buffer_.data(), size);
        return true;
    }
    // A chunk is `chunk_` bytes unless the file ends first. The buffer grows (doubling from 4 KiB)
    // only as far as the file fills it: a small file costs a small buffer, not a zero-filled
    // chunk (1 MiB by default) for every partition.
    bool read_chunk(std::string_view& piece) {
        std::size_t filled = 0;
        while (filled < chunk_) {
            if (filled == buffer_.size()) buffer_.resize(std::min(chunk_, std::max(std::size_t{4096}, 2 * buffer_.size())));
            in_->read(buffer_.data() + filled, static_cast<std::streamsize>(buffer_.size() - filled));
            filled += static_cast<std::size_t>(in_->gcount());
            check();
            if (!*in_) break;  // the end of the file
        }
        piece = std::string_view(buffer_.data(), filled);
        return filled > 0;
    }
    void check() const {
        if (in_->bad()) throw std::runtime_error("cannot read input file '" + path_ + "': " + std::strerror(errno ? errno : EIO));
    }

    std::string path_;
    char delimiter_;
    std::size_t chunk_;
    bool strip_cr_;
    std::unique_ptr<std::ifstream> in_;
    std::string buffer_;
};

/// The lines of `file`, without their newline (or carriage return and newline); a last line
/// without one counts too.
inline Pieces lines(const InputFile& file) { return Pieces(file.path(), '\n'); }

/// The records of `file` that end in `delimiter` (a NUL byte for `find -print0` style lists).
inline Pieces records(const InputFile& file, char delimiter) { return Pieces(file.path(), delimiter, 0, false); }

/// `file` in chunks of `size` bytes (the last one shorter), for partitions larger than memory.
inline Pieces chunks(const InputFile& file, std::size_t size = std::size_t{1} << 20) {
    if (size == 0) throw std::invalid_argument("steppar::io::chunks: the chunk size must be at least 1 byte");
    return Pieces(file.path(), '\n', size);
}

/// A partition node from a line function: each line of the first partitioned input becomes
/// `f(line)` (a string) plus a newline in the first output, in order.
template <class F>
void map_lines(PartitionContext& ctx, F&& f) {
    std::ostream& out = ctx.output().stream();
    for (std::string_view line : lines(ctx.input())) {
        const std::string mapped = f(line);
        out.write(mapped.data(), static_cast<std::streamsize>(mapped.size()));
        out.put('\n');
    }
}

/// A partition node from a text function: the first output is `f(the whole first input)`.
template <class F>
void map_text(PartitionContext& ctx, F&& f) {
    const std::string text = ctx.input().read_text();
    const std::string mapped = f(std::string_view(text));
    ctx.output().write(mapped);
}

}  // namespace steppar::io
