#include "perceptual/core/host.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

using namespace perceptual;

static_assert(concepts::buffer<Cpu::buffer<float>, float>);
static_assert(concepts::buffer<Cpu::buffer<double>, double>);
static_assert(std::is_same_v<Tensor<float, Cpu>, cpu::CpuTensor<float>>);

TEST_CASE("Host tensors are the CPU backend's tensors, named cpu") {
  CHECK(std::string(Cpu::name) == "cpu");
}

TEST_CASE("A host tensor round-trips host values and copies deeply") {
  const std::vector<float> values{1, 2, 3, 4, 5, 6};
  auto a = Tensor<float, Cpu>::from_host({1, 2, 1, 3}, values);
  CHECK(a.to_host() == values);
  Tensor<float, Cpu> b = a;
  b.data()[0] = -1;
  CHECK(a.data()[0] == 1);
  Tensor<float, Cpu> c({1, 1, 1, 2});
  c = a;  // a copy of another size takes the source's size
  CHECK(c.shape() == a.shape());
  CHECK(c.to_host() == values);
  Cpu::buffer<float> empty(Shape4{});
  const Cpu::buffer<float> empty_copy = empty;
  CHECK(empty_copy.data() == nullptr);
  CHECK(empty_copy.size() == 0);
}

TEST_CASE("A host tensor's storage comes from HostPool and goes back to it") {
  HostPool& pool = HostPool::instance();
  const std::size_t before = pool.in_use_bytes();
  const Shape4 shape{1, 3, 100, 100};  // 117 KiB of float: pooled
  {
    Tensor<float, Cpu> t(shape);
    CHECK(pool.in_use_bytes() == before + HostPool::size_class(shape.size() * sizeof(float)));
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % HostPool::alignment == 0);
  }
  CHECK(pool.in_use_bytes() == before);
}

TEST_CASE("A reused block still gives a zero-filled tensor") {
  const Shape4 shape{1, 4, 128, 128};  // 256 KiB of float: pooled
  {
    Tensor<float, Cpu> t(shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = 7.0f;
  }
  Tensor<float, Cpu> u(shape);
  double sum = 0;
  for (std::size_t i = 0; i < u.size(); ++i) sum += u.data()[i];
  CHECK(sum == 0.0);
}

#if defined(__linux__)
// The pages of [p, p + bytes) that are in memory.
static std::size_t resident_pages(const void* p, std::size_t bytes) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto first = reinterpret_cast<std::uintptr_t>(p) / page * page;
  const std::size_t n = (reinterpret_cast<std::uintptr_t>(p) + bytes - first + page - 1) / page;
  std::vector<unsigned char> in_core(n);
  REQUIRE(::mincore(reinterpret_cast<void*>(first), n * page, in_core.data()) == 0);
  std::size_t resident = 0;
  for (unsigned char c : in_core) resident += c & 1;
  return resident;
}

// An output written in full should fault its pages in once, where it is computed: an
// uninitialised host tensor on a fresh block writes none of them but the first, where HostPool
// keeps the block's size (one 2 MiB page where the kernel backs the block with huge pages).
TEST_CASE("An uninitialised host tensor on a fresh block touches none of its pages but the pool's header") {
  const Shape4 shape{1, 1, 3000, 4001};  // about 46 MiB: a size class no other case here uses
  const std::size_t bytes = shape.size() * sizeof(float);
  HostPool::instance().release();  // nothing cached: the block is newly mapped
  {
    Tensor<float, Cpu> t(shape, uninitialized);
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    CHECK(resident_pages(t.data(), bytes) <= HostPool::huge_page / page);
  }
  HostPool::instance().release();
  Tensor<float, Cpu> z(shape);  // zero-filled: every page written
  CHECK(resident_pages(z.data(), bytes) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) >= bytes);
}
#endif
