// The `wc` rule of the built-in plugin, as a header so the benchmark's contenders (bench/tools)
// count exactly the same way and their outputs can be compared byte for byte.
#pragma once

#include <cstddef>
#include <string>

namespace steppar::builtin {

// GNU wc in the C locale: whitespace ends a word, a printable character starts one, and any
// other byte (control, >= 0x80) does neither.
inline bool is_c_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
inline bool is_c_printable(unsigned char c) { return c > ' ' && c < 0x7f; }

/// Counts lines, words and bytes of a stream fed in chunks (a word may span two chunks).
class WordCounter {
public:
    void add(const char* data, std::size_t size) {
        bytes_ += size;
        for (std::size_t i = 0; i < size; ++i) {
            const auto c = static_cast<unsigned char>(data[i]);
            if (c == '\n') ++lines_;
            if (is_c_space(c)) {
                in_word_ = false;
            } else if (is_c_printable(c) && !in_word_) {
                in_word_ = true;
                ++words_;
            }
        }
    }
    /// What the `wc` node writes: {"lines":L,"words":W,"bytes":B} and a newline.
    std::string json() const {
        return R"({"lines":)" + std::to_string(lines_) + R"(,"words":)" + std::to_string(words_) + R"(,"bytes":)" +
               std::to_string(bytes_) + "}\n";
    }
    unsigned long long lines() const noexcept { return lines_; }
    unsigned long long words() const noexcept { return words_; }
    unsigned long long bytes() const noexcept { return bytes_; }

private:
    unsigned long long lines_ = 0, words_ = 0, bytes_ = 0;
    bool in_word_ = false;
};

}  // namespace steppar::builtin
