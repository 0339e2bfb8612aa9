# The release phase: the service's release commands, once per new release, before any of its processes
# starts. Each runs as the service's user in a transient unit (systemd-run), which reads the env file as
# the service's own units do and passes back its output and exit status; nothing of the env reaches a
# command line. Its output reaches the deploy's log with every env secret's value masked.

# mask_secrets: stdin to stdout, each line of each secret env value (RELEASE_SECRETS names them, in
# RELEASE_ENV) of 6 characters or more replaced by [secret NAME]. perl is part of every Debian and Ubuntu
# (perl-base is essential).
mask_secrets() {
  perl -e '
    use strict; use warnings;
    my ($file, @names) = @ARGV; @ARGV = ();
    my %secret = map { $_ => 1 } @names;
    open(my $fh, "<", $file) or die "stackyard: cannot read the release env file\n";
    my $text = do { local $/; <$fh> };
    my @pieces;
    while ($text =~ /^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\n/gms) {
      my ($name, $value) = ($1, $2);
      next unless $secret{$name};
      $value =~ s/\\(.)/$1/gs;
      push @pieces, map { [$_, $name] } grep { length($_) >= 6 } split /\n/, $value;
    }
    @pieces = sort { length($b->[0]) <=> length($a->[0]) } @pieces;
    $| = 1;
    while (my $line = <STDIN>) {
      for my $piece (@pieces) { $line =~ s/\Q$piece->[0]\E/[secret $piece->[1]]/g; }
      print $line;
    }
  ' "$RELEASE_ENV" "${RELEASE_SECRETS[@]}"
}

# release_phase DIR: each release command in DIR, in order; the first that fails stops it (status 1).
release_phase() {
  local command status
  for command in "${RELEASE[@]}"; do
    log "release phase: $command"
    set +e
    systemd-run --quiet --wait --pipe --collect --service-type=exec --uid="$SERVICE_USER" \
      --working-directory="$1" --property=EnvironmentFile="$RELEASE_ENV" --setenv=HOME="$STATE" \
      -- /bin/bash -c "$command" < /dev/null 2>&1 | mask_secrets
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" != 0 ]; then
      log "release phase: $command failed (exit status $status)"
      return 1
    fi
  done
}
