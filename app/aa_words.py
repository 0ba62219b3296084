"""The words Analytics Automated refuses as a parameter's value, besides punctuation
and whitespace: Python's keywords (but `in`), R's reserved words and base functions,
and the names of the programs in the usual command directories of the host.

R's list here holds its reserved words and 590 of the about 1180 names of base R
that Analytics Automated carries: every reserved word, the constants (T, F, pi,
letters) and the base functions a value is likely to collide with (c, rm, max, sort,
seq, paste, format.packageInfo); R's rarer internals (.C, .Internal, the S4 helpers)
are not in it. TRUE and FALSE are not refused: they are how a switch is sent.
"""

import keyword
import os
from functools import lru_cache

PYTHON = frozenset(keyword.kwlist) - {"in"}

COMMAND_DIRS = ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/opt")

R = frozenset("""
abbreviate abs acos acosh addNA addTaskCallback agrep agrepl alist all all.equal any anyDuplicated
anyNA aperm append apply approx approxfun Arg args array arrayInd as.array as.character as.complex
as.data.frame as.Date as.difftime as.double as.environment as.factor as.function as.hexmode
as.integer as.list as.logical as.matrix as.name as.numeric as.numeric_version as.octmode as.ordered
as.package_version as.POSIXct as.POSIXlt as.raw as.real as.symbol as.table as.vector asin asinh
asNamespace asS4 assign atan atan2 atanh attach attr attributes autoload autoloader backsolve
basename besselI besselJ besselK besselY beta bindingIsActive bindingIsLocked bindtextdomain bitwAnd
bitwNot bitwOr bitwShiftL bitwShiftR bitwXor body bquote break browser browserCondition
browserSetDebug browserText builtins by bzfile c call callCC capabilities casefold cat cbind ceiling
char.expand character charmatch charToRaw chartr chkDots chol chol2inv choose class col colMeans
colnames colSums commandArgs comment complete.cases complex conditionCall conditionMessage conflicts
Conj contributors cos cosh cospi crossprod Cstack_info cummax cummin cumprod cumsum cut data.class
data.frame data.matrix date debug debugonce default.stringsAsFactors delayedAssign deparse det
detach determinant dget diag diff difftime digamma dim dimnames dir dir.create dirname do.call
double dput dQuote drop droplevels dump duplicated dyn.load dyn.unload eapply eigen else emptyenv
encodeString Encoding endsWith enquote env.profile environment environmentName eval evalq exists exp
expand.grid expm1 expression F factor file file.access file.append file.choose file.copy file.create
file.exists file.info file.path file.remove file.rename file.show file.size file.symlink Filter Find
find.package findInterval floor flush for force formals format format.Date format.info
format.packageInfo format.POSIXct formatC forwardsolve function gamma gc gcinfo gctorture get get0
getElement geterrmessage getOption gettext gettextf getwd gl globalenv gregexpr grep grepl grepRaw
gsub head iconv icuSetCollate identical identity if ifelse Im Inf integer interaction interactive
intersect intToBits intToUtf8 inverse.rle invisible invokeRestart is.array is.atomic is.call
is.character is.complex is.data.frame is.double is.element is.environment is.factor is.finite
is.function is.infinite is.integer is.language is.list is.loaded is.logical is.matrix is.na is.name
is.nan is.null is.numeric is.object is.ordered is.primitive is.qr is.raw is.recursive is.symbol
is.table is.unsorted is.vector isatty isFALSE isIncomplete isOpen isS4 isSymmetric isTRUE jitter
julian kappa kronecker l10n_info La_library labels lapply lazyLoad lbeta lchoose length LETTERS
letters levels lfactorial lgamma library library.dynam licence license list list.dirs list.files
list2env load loadNamespace local lockBinding lockEnvironment log log10 log1p log2 logb logical
lower.tri ls make.names make.unique makeActiveBinding Map mapply margin.table mat.or.vec match
match.arg match.call match.fun max max.col mean mean.Date median mem.limits memCompress
memDecompress memory.profile merge message methods min missing Mod mode months NA NA_character_
NA_complex_ NA_integer_ NA_real_ names NaN nargs nchar NCOL ncol Negate new.env next NextMethod
ngettext nlevels noquote norm NROW nrow NULL numeric numeric_version nzchar objects oldClass on.exit
open options order ordered outer packageEvent packageStartupMessage packBits pairlist parent.env
parent.frame paste paste0 path.expand pi pmatch pmax pmin polyroot pos.to.env pretty prettyNum print
prmatrix proc.time prod prop.table psigamma pushBack q qr quarters quit R.home R.version range rank
rapply raw rawConnection rawToBits rawToChar Re read.dcf readline readLines readRDS readRenviron
Recall Reduce regexec regexpr regmatches remove rep rep_len repeat replace rev rle rm RNGkind round
row row.names rowMeans rownames rowsum rowSums sample sample.int sapply save save.image scale scan
search searchpaths seek seq seq_along seq_len sequence setdiff setequal setwd shQuote sign signif
simpleCondition simpleError simpleMessage simpleWarning simplify2array sin sinh sink sinpi
slice.index sort sort.int sort.list source split sprintf sqrt sQuote srcfile standardGeneric
startsWith stderr stdin stdout stop stopifnot storage.mode str strftime strptime strsplit strtoi
strtrim structure strwrap sub subset substr substring sum summary suppressMessages suppressWarnings
svd sweep switch sys.call Sys.Date sys.function Sys.getenv Sys.setenv Sys.setlocale Sys.sleep
Sys.time system system.file system.time system2 T t table tabulate tail tan tanh tanpi tcrossprod
tempdir tempfile textConnection tolower topenv toupper tracemem trimws trunc truncate try tryCatch
typeof unclass undebug union unique units unlink unlist unname unsplit untrace unz upper.tri
UseMethod utf8ToInt vapply vector Vectorize warning warnings weekdays which which.max which.min
while with withCallingHandlers within write writeBin writeChar writeLines xor xtfrm xzfile zapsmall
""".split())


@lru_cache(maxsize=1)
def unix_commands() -> frozenset[str]:
    """The file names in the command directories (read once per process)."""
    names: set[str] = set()
    for d in COMMAND_DIRS:
        try:
            names.update(os.listdir(d))
        except OSError:
            continue
    return frozenset(names)
