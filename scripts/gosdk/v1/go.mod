module github.com/imdsd/imdsd/scripts/gosdk/v1

go 1.26.8

require github.com/aws/aws-sdk-go v1.55.8

require github.com/jmespath/go-jmespath v0.4.0 // indirect
