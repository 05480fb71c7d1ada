#!/usr/bin/env bash
# the refresh script of that era (never run by the image build)
touch "$(dirname "$0")/SYNC-SUPERCHAIN-RAN"
