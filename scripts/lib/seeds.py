"""Shared by the result scripts' summaries: a table's mean over units (digits, classes) and
seeds, with the spread between seeds."""
import statistics


def over_seeds(per_unit, digits=4):
    """The mean over units and seeds, ± the std of the seeds' means, and the seeds' means.

    `per_unit[k][i]` is unit k's figure for seed i; every unit has every seed."""
    seed_means = [statistics.mean(u[i] for u in per_unit) for i in range(len(per_unit[0]))]
    sd = f" ± {statistics.stdev(seed_means):.{digits}f}" if len(seed_means) > 1 else ""
    return (f"{statistics.mean(seed_means):.{digits}f}{sd}",
            " / ".join(f"{m:.{digits}f}" for m in seed_means))
