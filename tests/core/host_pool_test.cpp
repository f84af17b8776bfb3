#include "perceptual/core/host_pool.hpp"

#include <doctest/doctest.h>

#include <cstdint>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

using namespace perceptual;

TEST_CASE("HostPool size classes are four per octave and never smaller than the request") {
  constexpr std::size_t k = HostPool::min_pooled_bytes;
  CHECK(HostPool::size_class(100) == 100);  // below the pooled size: untouched
  CHECK(HostPool::size_class(k) == k);
  CHECK(HostPool::size_class(k + 1) == k + k / 4);
  CHECK(HostPool::size_class(k + k / 4) == k + k / 4);
  CHECK(HostPool::size_class(2 * k - 1) == 2 * k);
  CHECK(HostPool::size_class(3 * k + 5) == 3 * k + k / 2);
  for (std::size_t bytes = k; bytes < 64 * k; bytes = bytes * 9 / 7 + 13) {
    const std::size_t c = HostPool::size_class(bytes);
    CHECK(c >= bytes);
    CHECK(c <= bytes + bytes / 4);
  }
}

TEST_CASE("HostPool hands a freed block of the same size class out again") {
  HostPool pool;
  void* a = pool.allocate(1 << 20);
  CHECK(reinterpret_cast<std::uintptr_t>(a) % HostPool::alignment == 0);
  pool.deallocate(a, 1 << 20);
  CHECK(pool.cached_bytes() == std::size_t{1} << 20);
  void* b = pool.allocate((1 << 20) - 1000);  // same class
  CHECK(b == a);
  CHECK(pool.cached_bytes() == 0);
  void* c = pool.allocate(1 << 20);  // nothing cached: a new block
  CHECK(c != b);
  pool.deallocate(b, (1 << 20) - 1000);
  pool.deallocate(c, 1 << 20);
  CHECK(pool.cached_bytes() == std::size_t{2} << 20);
  pool.release();
  CHECK(pool.cached_bytes() == 0);
}

TEST_CASE("HostPool frees blocks beyond its cap and never caches small ones") {
  HostPool pool;
  pool.set_max_cached_bytes(std::size_t{1} << 20);
  void* a = pool.allocate(1 << 20);
  void* b = pool.allocate(1 << 20);
  pool.deallocate(a, 1 << 20);
  pool.deallocate(b, 1 << 20);  // over the cap: returned to the system
  CHECK(pool.cached_bytes() == std::size_t{1} << 20);
  void* s = pool.allocate(64);
  pool.deallocate(s, 64);
  CHECK(pool.cached_bytes() == std::size_t{1} << 20);
}

TEST_CASE("HostPool serves a request from a cached block up to twice its size, and counts what is in use") {
  HostPool pool;
  constexpr std::size_t mib = std::size_t{1} << 20;
  void* big = pool.allocate(2 * mib);
  CHECK(pool.in_use_bytes() == 2 * mib);
  pool.deallocate(big, 2 * mib);
  CHECK(pool.in_use_bytes() == 0);
  CHECK(pool.peak_in_use_bytes() == 2 * mib);
  void* half = pool.allocate(mib);  // the 2 MiB block, not a new one
  CHECK(half == big);
  CHECK(pool.in_use_bytes() == 2 * mib);   // counted as the block it holds
  void* quarter = pool.allocate(mib / 2);  // nothing cached within 2x: a new block
  CHECK(quarter != big);
  pool.deallocate(quarter, mib / 2);
  pool.deallocate(half, mib);
  CHECK(pool.cached_bytes() == 2 * mib + mib / 2);
  pool.reset_peak();
  CHECK(pool.peak_in_use_bytes() == 0);
}

TEST_CASE("HostPool's cache never makes the blocks held exceed the most ever in use at once") {
  HostPool pool;
  constexpr std::size_t mib = std::size_t{1} << 20;
  void* a = pool.allocate(4 * mib);
  void* b = pool.allocate(4 * mib);
  pool.deallocate(a, 4 * mib);
  pool.deallocate(b, 4 * mib);  // high water 8 MiB, all of it cached
  CHECK(pool.cached_bytes() == 8 * mib);
  // A size the cache cannot serve: one cached block goes back to the system to make room.
  void* c = pool.allocate(mib);
  CHECK(pool.cached_bytes() == 4 * mib);
  CHECK(pool.in_use_bytes() + pool.cached_bytes() <= 8 * mib);
  pool.deallocate(c, mib);
  CHECK(pool.in_use_bytes() == 0);
}

#if defined(__GLIBC__)
// Through malloc, a freed block of a few MiB raised glibc's mmap threshold and later blocks came
// from its heap, which kept what they left: resident memory grew pass after pass (65 to 170 MB
// for a 256x256 stylisation) while the pool's own figures stayed flat.
TEST_CASE("HostPool maps its blocks itself: malloc holds none of them, and each is writable and aligned") {
  HostPool pool;
  const auto malloc_bytes = [] {
    const auto m = mallinfo2();
    return m.uordblks + m.hblkhd;  // heap in use + blocks malloc mapped
  };
  for (const std::size_t bytes : {std::size_t{100} << 10, std::size_t{3} << 20}) {
    INFO(bytes << " bytes");
    const std::size_t before = malloc_bytes();
    auto* p = static_cast<unsigned char*>(pool.allocate(bytes));
    CHECK(malloc_bytes() < before + bytes / 2);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % HostPool::alignment == 0);
    p[0] = 1;
    p[bytes - 1] = 2;  // the whole request is mapped
    pool.deallocate(p, bytes);
  }
  pool.release();
}
#endif
