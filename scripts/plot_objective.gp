# Johnson et al. 2016, figure 5, from the summary CSV of benchmarks/objective: the Gatys baseline's
# objective (eq. 5, mean over images) against its L-BFGS iterations, one curve per image size, with
# the range over images shaded and the trained feed-forward network's mean as a dashed level line.
#
#   gnuplot -e "input='objective_summary.csv'; output='objective.png'" scripts/plot_objective.gp
#
# Variables (all optional): input, output, sizes ("256 512": which sizes; default all in input),
# logscale (1: logarithmic objective axis, the default; 0: linear), title.
if (!exists("input")) input = "objective_summary.csv"
if (!exists("output")) output = "objective.png"
if (!exists("sizes")) sizes = system("tail -n +2 '" . input . "' | cut -d, -f1 | sort -un | tr '\n' ' '")
if (!exists("logscale")) logscale = 1
if (!exists("title")) title = "Style-transfer objective (eq. 5) on held-out images"
if (words(sizes) == 0) print "plot_objective.gp: no rows in " . input; exit status 1

set datafile separator ","
set terminal pngcairo size 960,640 font "sans,11"
set output output
set title title
set xlabel "L-BFGS iteration (Gatys et al. baseline, from white noise)"
set ylabel "objective (content + style + TV)"
if (logscale) set logscale y
set grid
set key below
set style fill transparent solid 0.12 noborder

size(i) = word(sizes, i) + 0
plot for [i=1:words(sizes)] input every ::1 using 2:($1 == size(i) ? $5 : 1/0):($1 == size(i) ? $6 : 1/0) \
       with filledcurves lc i notitle, \
     for [i=1:words(sizes)] input every ::1 using 2:($1 == size(i) ? $4 : 1/0) \
       with lines lw 2 lc i title sprintf("Gatys et al., %d px (mean; range shaded)", size(i)), \
     for [i=1:words(sizes)] input every ::1 using 2:($1 == size(i) ? $7 : 1/0) \
       with lines lw 2 dt 2 lc i title sprintf("ours, feed-forward, %d px (mean)", size(i))
