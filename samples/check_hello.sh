#!/bin/sh
"$1"
