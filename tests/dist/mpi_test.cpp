// Data parallelism over MPI (include/perceptual/dist/mpi.hpp), run by ctest as
// `mpirun -np 2 --oversubscribe mpi_tests`: each rank steps on its shard of every global batch, and
// after 3 steps both ranks hold the parameters that one process stepping on the whole batches
// reaches (each rank computes that run too, as the reference); synchronised batch norm gives one
// process's values on unequal shards.
#include "perceptual/dist/mpi.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/dist/sync_batch_norm.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/layers/norm.hpp"
#include "perceptual/train/data.hpp"
#include "perceptual/train/sr_trainer.hpp"
#include "perceptual/train/style_trainer.hpp"
#include "support/data_parallel.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
using namespace perceptual::train;
namespace fs = std::filesystem;

namespace {

// MPI is initialised once per process: one communicator for every test case.
dist::MpiCommunicator& world() {
  static dist::MpiCommunicator comm;
  return comm;
}

struct Fixture {
  testing::TempDir dir;  // one per rank: each writes and reads its own copy
  Tensor<float, Cpu> style;
  Fixture() {
    testing::write_tiny_vgg(dir / "vgg.safetensors");
    fs::create_directories(dir / "data");
    std::mt19937_64 rng(3);
    for (int i = 0; i < 6; ++i)
      io::write_image(random_tensor<float>({1, 3, 24 + i, 26}, rng, 0, 255),
                      dir / "data" / ("img" + std::to_string(i) + ".png"));
    style = random_tensor<float>({1, 3, 16, 16}, rng, 0, 255);
  }
};

// Every parameter of a trainer's network, flattened.
template <class Trainer>
std::vector<double> state(Trainer& t) {
  std::vector<double> out;
  for (const auto& p : t.model().parameters())
    for (float v : p.value->to_host()) out.push_back(v);
  return out;
}

// Whether every rank holds exactly these values (rank 0's, sent to all and compared).
bool same_on_every_rank(std::vector<double> values) {
  std::vector<double> root = values;
  if (world().rank() != 0) std::fill(root.begin(), root.end(), 0.0);
  world().sum(root);  // rank 0's values, on every rank
  std::vector<double> differs{values == root ? 0.0 : 1.0};
  world().sum(differs);
  return differs[0] == 0;
}

TEST_CASE("MpiCommunicator: two ranks, sums of floats and doubles the same on both") {
  REQUIRE(world().size() == 2);
  CHECK(world().root() == (world().rank() == 0));
  std::vector<float> f{1.5f, static_cast<float>(world().rank())};
  world().sum(f);
  CHECK(f == std::vector<float>{3.0f, 1.0f});
  std::vector<double> d(100000, world().rank() + 1.0);
  world().sum(d);
  CHECK(std::all_of(d.begin(), d.end(), [](double v) { return v == 3.0; }));
  world().barrier();
}

TEST_CASE("StyleTrainer on 2 ranks, a shard of 2 of each global batch of 4: the 1-process run's parameters") {
  Fixture f;
  StyleTrainerOptions o;
  o.objective.content_layers = {"relu2_2"};
  o.objective.style_layers = {"relu1_2", "relu2_2"};
  o.objective.style_weight = 1e-2;
  o.objective.tv_weight = 1e-4;
  o.seed = 3;
  const ImageDataset data({f.dir / "data"});
  const LoaderOptions whole{.image_size = 16, .batch_size = 4, .seed = 9, .threads = 0};
  auto mine = whole;
  mine.shard = dist::shard(whole.batch_size, world());

  StyleTrainer<nets::AllReluVgg16> alone(o, f.dir / "vgg.safetensors", f.style);
  StyleTrainer<nets::AllReluVgg16> ranked(o, f.dir / "vgg.safetensors", f.style);
  ranked.distribute(world(), whole.batch_size);
  BatchLoader all(data, whole), shard(data, mine);
  for (int i = 0; i < 3; ++i) {
    const StyleTerms a = alone.step(all.next().images);
    const StyleTerms r = ranked.step(shard.next().images);
    CHECK(r.total == doctest::Approx(a.total).epsilon(1e-5));  // the global batch's loss, not the shard's
    CHECK(r.style == doctest::Approx(a.style).epsilon(1e-5));
  }
  const auto reference = state(alone), got = state(ranked);
  CHECK(same_on_every_rank(got));
  // Not bit-identical: each rank sums its shard's gradients, then MPI sums the two, where one
  // process sums all four at once (float addition is not associative).
  testing::check_data_parallel_close(reference, got, o.lr, 3);
}

// The rows [begin, end) of a batch (N x C x H x W, row = sample), times `factor`.
Tensor<double, Cpu> rows(const Tensor<double, Cpu>& x, dist::Shard s, double factor = 1) {
  const auto all = x.to_host();
  const std::size_t sample = x.size() / static_cast<std::size_t>(x.n());
  std::vector<double> part(all.begin() + s.begin * sample, all.begin() + s.end * sample);
  for (double& v : part) v *= factor;
  return Tensor<double, Cpu>::from_host({s.size(), x.c(), x.h(), x.w()}, part);
}

}  // namespace

TEST_CASE("BatchNorm synchronised over 2 ranks with unequal shards (2 and 1 of 3): one process's values") {
  std::mt19937_64 rng(5);  // the same data on both ranks
  const Shape4 shape{3, 2, 3, 4};
  const auto x = random_tensor<double>(shape, rng, -2, 5), dy = random_tensor<double>(shape, rng);
  const auto gamma = random_tensor<double>({1, 2, 1, 1}, rng, 0.5, 2);
  Model<layers::BatchNorm<2>, Cpu, double> whole, part;
  for (auto* m : {&whole, &part}) {
    *m->parameters()[0].value = gamma;
    m->zero_grad();
  }
  const auto y = whole.forward(x), dx = whole.backward(dy);

  // The global loss is sum_r (n_r / N) L_r: this rank's dy is the whole batch's times N / n_r, and
  // its dx, in L_r's units, the whole batch's times the same.
  const dist::Shard s = dist::shard(3, world());
  const double units = 3.0 / s.size();
  Tensor<double, Cpu> y_part, dx_part;
  {
    const dist::SyncBatchNorm sync(world());
    y_part = part.forward(rows(x, s));
    dx_part = part.backward(rows(dy, s, units));
  }
  dist::combine_gradients(world(), part.parameters(), s.size(), 3);
  const auto close = [](const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-10).scale(1));
  };
  close(y_part.to_host(), rows(y, s).to_host());
  close(dx_part.to_host(), rows(dx, s, units).to_host());
  const auto p = part.parameters(), w = whole.parameters();
  for (std::size_t i = 0; i < p.size(); ++i) {
    INFO(p[i].name);
    close(p[i].value->to_host(), w[i].value->to_host());  // running_mean, running_var
    if (p[i].learnable()) close(p[i].grad->to_host(), w[i].grad->to_host());
  }
}

TEST_CASE("SrTrainer on 2 ranks: batch norm (synchronised) and instance norm match one process") {
  Fixture f;
  const SrTrainerOptions o{.loss = SrLoss::pixel, .tv_weight = 1e-4, .lr = 1e-3, .seed = 3};
  const ImageDataset data({f.dir / "data"});
  const LoaderOptions whole{
      .image_size = 24, .batch_size = 4, .seed = 9, .threads = 0, .crop = LoaderOptions::Crop::random, .lr_factor = 4};
  auto mine = whole;
  mine.shard = dist::shard(whole.batch_size, world());

  const auto check = [&](auto& alone, auto& ranked) {
    ranked.distribute(world(), whole.batch_size);
    BatchLoader all(data, whole), shard(data, mine);
    for (int i = 0; i < 3; ++i) {
      const Batch a = all.next(), r = shard.next();
      const SrTerms at = alone.step(a.inputs, a.images), rt = ranked.step(r.inputs, r.images);
      CHECK(rt.total == doctest::Approx(at.total).epsilon(1e-5));
    }
    const auto reference = state(alone), got = state(ranked);  // running statistics included
    CHECK(same_on_every_rank(got));
    testing::check_data_parallel_close(reference, got, o.lr, 3);
  };
  SUBCASE("batch norm") {
    SrTrainer<4> alone(o), ranked(o);
    check(alone, ranked);
  }
  SUBCASE("instance norm") {
    SrTrainer<4, nets::InstanceNormDefault> alone(o), ranked(o);
    check(alone, ranked);
  }
}
