package scan

import (
	_ "github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	_ "github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	_ "github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	_ "github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	_ "github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	_ "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	_ "github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
)
