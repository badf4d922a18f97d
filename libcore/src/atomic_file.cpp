#include "convergent/atomic_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "convergent/error.hpp"
#include "temporary_sibling.hpp"

namespace convergent {

using detail::error_text;

AtomicFile::DescriptorBuffer::DescriptorBuffer() : buffer_(size_t(1) << 16) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
}

bool AtomicFile::DescriptorBuffer::write_all(const char* data, size_t size) {
    if (error_) return false;
    while (size > 0) {
        const ssize_t n = ::write(fd_, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            error_ = errno;
            return false;
        }
        if (n == 0) {
            error_ = EIO;
            return false;
        }
        data += n;
        size -= size_t(n);
    }
    return true;
}

bool AtomicFile::DescriptorBuffer::drain() {
    const bool ok = write_all(pbase(), size_t(pptr() - pbase()));
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return ok;
}

AtomicFile::DescriptorBuffer::int_type AtomicFile::DescriptorBuffer::overflow(int_type c) {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
        *pptr() = traits_type::to_char_type(c);
        pbump(1);
    }
    return traits_type::not_eof(c);
}

std::streamsize AtomicFile::DescriptorBuffer::xsputn(const char* data, std::streamsize size) {
    if (size <= epptr() - pptr()) {
        std::memcpy(pptr(), data, size_t(size));
        pbump(int(size));
        return size;
    }
    // Large blocks (a base64 matrix) go straight to the file.
    if (!drain() || !write_all(data, size_t(size))) return 0;
    return size;
}

int AtomicFile::DescriptorBuffer::sync() { return drain() ? 0 : -1; }

AtomicFile::AtomicFile(const std::string& path) : path_(path), stream_(&buffer_) {
    const std::filesystem::path p(path);
    const std::string name = p.filename().string();
    CVG_REQUIRE(!name.empty() && name != "." && name != "..", Io, "cannot write '" + path_ + "': not a file name");
    detail::remove_stale_temporaries(p.parent_path(), name);
    temp_ = (p.parent_path() / (detail::temporary_prefix(name) + "XXXXXX")).string();
    fd_ = ::mkostemp(temp_.data(), O_CLOEXEC);
    if (fd_ < 0) {
        const int error = errno;
        throw Error(ErrorCode::Io, "cannot write '" + path_ + "': " + error_text(error) +
                                       " (is its directory there and writable?)");
    }
    // Held until the file is renamed or removed: tells a later run that this
    // temporary is in use (see temporary_sibling.hpp).
    ::flock(fd_, LOCK_EX | LOCK_NB);
    // mkstemp creates 0600; the result gets the mode of any new file.
    if (::fchmod(fd_, 0666 & ~detail::current_umask()) != 0) {
        const int error = errno;
        discard();
        throw Error(ErrorCode::Io, "cannot set the mode of '" + temp_ + "': " + error_text(error));
    }
    buffer_.attach(fd_);
}

void AtomicFile::discard() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (!temp_.empty()) ::unlink(temp_.c_str());
}

AtomicFile::~AtomicFile() {
    if (!committed_) discard();
}

void AtomicFile::commit() {
    CVG_REQUIRE(fd_ >= 0 && !committed_, Internal, "AtomicFile::commit called twice for '" + path_ + "'");
    stream_.flush();
    if (buffer_.error() || !stream_) {
        const int error = buffer_.error() ? buffer_.error() : EIO;
        discard();
        throw Error(ErrorCode::Io, "error while writing '" + path_ + "': " + error_text(error));
    }
    // close() reports deferred write errors (NFS, quotas).
    const int closed = ::close(fd_);
    const int close_error = errno;
    fd_ = -1;
    if (closed != 0) {
        discard();
        throw Error(ErrorCode::Io, "error while writing '" + path_ + "': " + error_text(close_error));
    }
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
        const int error = errno;
        discard();
        throw Error(ErrorCode::Io, "cannot rename onto '" + path_ + "': " + error_text(error));
    }
    committed_ = true;
}

void write_text_file(const std::string& path, const std::string& text) {
    AtomicFile file(path);
    file.stream() << text;
    file.commit();
}

}  // namespace convergent
